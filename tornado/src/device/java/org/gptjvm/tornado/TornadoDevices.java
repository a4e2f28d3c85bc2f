package org.gptjvm.tornado;

import org.gptjvm.engine.GptException;
import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoExecutionPlan;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoDeviceType;

import java.util.ArrayList;
import java.util.List;

/** The devices TornadoVM sees, numbered 0.. across its drivers (OpenCL, PTX, ...) in its own order. */
final class TornadoDevices {
    private TornadoDevices() {
    }

    static List<TornadoDevice> all() {
        List<TornadoDevice> devices = new ArrayList<>();
        for (TornadoBackend b : TornadoExecutionPlan.getTornadoDeviceMap().getAllBackends()) {
            devices.addAll(b.getAllDevices());
        }
        return devices;
    }

    /**
     * Device {@code spec}: an index into {@link #all()}, or TornadoVM's "driver:device"; null: the
     * default ({@link #preferred}).
     */
    static TornadoDevice select(String spec) {
        List<TornadoDevice> devices = all();
        if (devices.isEmpty()) {
            throw new GptException("TornadoVM found no device: check the driver (clinfo -l for OpenCL) and tornado --devices");
        }
        if (spec == null) {
            return preferred(devices);
        }
        try {
            if (spec.contains(":")) {
                String[] p = spec.split(":", 2);
                return TornadoExecutionPlan.getDevice(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
            }
            int i = Integer.parseInt(spec.trim());
            if (i >= 0 && i < devices.size()) {
                return devices.get(i);
            }
        } catch (RuntimeException e) {
            // fall through to the one-line error
        }
        throw new GptException("no TornadoVM device '" + spec + "'; there are " + devices.size()
                + " (0.." + (devices.size() - 1) + "): see gpt devices");
    }

    /**
     * The default device: an accelerator, by route: TornadoVM's CUDA backend, then its PTX backend (both
     * launch without waiting for the device, where its OpenCL backend waits before every launch), then
     * OpenCL, then any other; among equals, TornadoVM's first. CUDA comes first: the products fit 128
     * registers there by construction as under the PTX route's cap (scripts/kernel-sass.sh shows both),
     * and cuBLAS runs beside our kernels only there ({@code --gemm}, {@link CuBlas}). Without an
     * accelerator, TornadoVM's default device.
     */
    static TornadoDevice preferred(List<TornadoDevice> devices) {
        return devices.stream().filter(TornadoDevices::isAccelerator)
                .min(java.util.Comparator.comparingInt(TornadoDevices::routeRank))
                .orElseGet(() -> TornadoExecutionPlan.getDevice(0, 0));
    }

    /** The order of {@link #preferred}: lower first. */
    static int routeRank(TornadoDevice d) {
        return switch (d.getTornadoVMBackend()) {
            case CUDA -> 0;
            case PTX -> 1;
            case OPENCL -> 2;
            default -> 3;
        };
    }

    /** A device that is not a CPU: a GPU, an accelerator, an FPGA. */
    static boolean isAccelerator(TornadoDevice d) {
        TornadoDeviceType t = d.getDeviceType();
        return t == TornadoDeviceType.GPU || t == TornadoDeviceType.ACCELERATOR || t == TornadoDeviceType.FPGA;
    }

    static String describe(TornadoDevice d) {
        String mem = d.getMaxGlobalMemory() > 0 ? String.format(", %.1f GiB", d.getMaxGlobalMemory() / (double) (1L << 30)) : "";
        return d.getPhysicalDevice().getDeviceName().trim() + " (" + d.getTornadoVMBackend() + " " + d.getDeviceType()
                + ", " + d.getPlatformName().trim() + mem + ")";
    }
}
