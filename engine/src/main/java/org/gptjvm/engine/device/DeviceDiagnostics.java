package org.gptjvm.engine.device;

import org.gptjvm.engine.KernelProfile;
import org.gptjvm.engine.Program;

import java.util.List;

/**
 * What a backend that runs on a device (a GPU) can tell about its work beyond a host backend: the
 * launches a program makes with their work sizes and costs ({@code gpt bench --plan}), and, while a
 * {@link KernelProfile} is attached, how its runs add up on the host clock and what its runtime says
 * of them. Host backends do not implement it.
 */
public interface DeviceDiagnostics {

    /** The launches a device makes for one run of {@code program} (one this backend compiled), in order. */
    List<LaunchInfo> plan(Program program);

    /**
     * Measurements beside the kernels' own times since {@link org.gptjvm.engine.Backend#profile}, each
     * [name, nanoseconds, count]: the programs' runs on the host clock and the runtime's own account
     * of them (kernels, dispatching, transfers), first runs left out.
     */
    List<KernelProfile.Entry> stages();

    /** The programs' first runs, which compile their kernels: not a step's time. */
    List<KernelProfile.Entry> firstRuns();
}
