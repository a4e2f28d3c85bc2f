package org.gptjvm.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import org.gptjvm.model.Flops;
import org.gptjvm.model.Rng;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code gpt bench --products}: the Linear layers' matrix products of a config on their own, one
 * layer shape at a time, forward ({@code out = inp @ W^T + b}) and backward ({@code dinp = dout @ W},
 * {@code dW += dout^T @ inp}, {@code db += sum of dout}), in ms and GFLOP/s. About 90% of a
 * training step's FLOPs are these products. On a device, a program of a few launches compiles in
 * seconds where a whole step's programs take a minute, so a tile setting can be tried quickly.
 */
final class ProductBench {
    /** Launches per timed program: a program's own start is shared by this many products. */
    static final int REPS = 4;

    /** A layer's median time per product, forward and backward, over the timed runs. */
    record Result(Flops.Linear layer, double forwardMs, double backwardMs) {
        double forwardGflops() {
            return layer.forward() / (forwardMs / 1e3) / 1e9;
        }

        double backwardGflops() {
            return layer.backward() / (backwardMs / 1e3) / 1e9;
        }
    }

    private ProductBench() {
    }

    /**
     * The products timed with the backend's own kernels ({@code own}), and with each library it offers
     * beside them on the same buffers ({@link Backend#productLibraries}): its results, or why it was not
     * timed.
     */
    record Table(List<Result> own, Map<String, List<Result>> libraries, Map<String, String> notTimed) {
    }

    /**
     * Times each layer's products on {@code be}: every buffer is allocated and every program compiled
     * first, for the own kernels and for each library (a device backend then builds its plan once),
     * then each program runs {@code warmup} times untimed and {@code iters} times timed, the own
     * kernels' first.
     */
    static Table time(Backend be, List<Flops.Linear> layers, int warmup, int iters) {
        Rng rng = new Rng(1337);
        List<FloatBuf[]> buffers = new ArrayList<>();
        for (Flops.Linear l : layers) {
            int n = l.n(), c = l.c(), oc = l.oc();
            buffers.add(new FloatBuf[]{random(be, rng, "inp", n * c), random(be, rng, "w", oc * c), random(be, rng, "b", oc),
                    random(be, rng, "out", n * oc), random(be, rng, "dout", n * oc), random(be, rng, "dinp", n * c),
                    random(be, rng, "dw", oc * c), random(be, rng, "db", oc)});
        }
        Map<String, List<Program[]>> programs = new LinkedHashMap<>();
        Map<String, String> notTimed = new LinkedHashMap<>();
        programs.put(null, compile(be, layers, buffers));
        for (String lib : be.productLibraries()) {
            try {
                be.useProductLibrary(lib);
                programs.put(lib, compile(be, layers, buffers));
            } catch (GptException e) {
                notTimed.put(lib, e.getMessage());
            } finally {
                be.useProductLibrary(null);
            }
        }
        List<Result> own = null;
        Map<String, List<Result>> libraries = new LinkedHashMap<>();
        for (var e : programs.entrySet()) {
            List<Result> results = new ArrayList<>();
            try {
                for (int i = 0; i < layers.size(); i++) {
                    Program[] p = e.getValue().get(i);
                    results.add(new Result(layers.get(i), medianMs(p[0], warmup, iters) / REPS,
                            medianMs(p[1], warmup, iters) / REPS));
                }
            } catch (RuntimeException failure) { // a library that cannot start on this device: its reason, and on
                if (e.getKey() == null) {
                    throw failure;
                }
                notTimed.put(e.getKey(), String.valueOf(failure.getMessage()).strip().lines().findFirst().orElse("failed"));
                continue;
            }
            if (e.getKey() == null) {
                own = results;
            } else {
                libraries.put(e.getKey(), results);
            }
        }
        return new Table(own, libraries, notTimed);
    }

    /** Each layer's forward and backward programs over its buffers, {@link #REPS} launches each. */
    private static List<Program[]> compile(Backend be, List<Flops.Linear> layers, List<FloatBuf[]> buffers) {
        List<Program[]> programs = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Flops.Linear l = layers.get(i);
            FloatBuf[] b = buffers.get(i);
            FloatBuf inp = b[0], w = b[1], bias = b[2], out = b[3], dout = b[4], dinp = b[5], dw = b[6], db = b[7];
            int n = l.n(), c = l.c(), oc = l.oc();
            List<Launch> fwd = new ArrayList<>(), bwd = new ArrayList<>();
            for (int r = 0; r < REPS; r++) {
                fwd.add(be.matmulForward(out, inp, w, bias, n, c, oc));
                // the gradients accumulate run after run; random inputs in [-0.5, 0.5) keep them finite
                bwd.add(be.matmulBackward(dinp, dw, db, dout, inp, w, n, c, oc));
            }
            programs.add(new Program[]{be.compile("products_forward", fwd), be.compile("products_backward", bwd)});
        }
        return programs;
    }

    private static FloatBuf random(Backend be, Rng rng, String name, int size) {
        FloatBuf buf = be.allocFloat(name, size);
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) rng.nextDouble() - 0.5f;
        }
        be.write(buf, v);
        return buf;
    }

    private static double medianMs(Program p, int warmup, int iters) {
        for (int i = 0; i < warmup; i++) {
            p.run();
        }
        double[] ms = new double[iters];
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            p.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return StepBench.median(ms);
    }

    /**
     * The table, and the products of one training step from it: each layer as many times as a step
     * runs it, forward and backward (attention's own products are not among them); then each library's
     * GFLOP/s beside the own kernels' on the same products, and the own kernels' share of it.
     */
    static void print(PrintStream out, Table table) {
        List<Result> results = table.own();
        out.printf("%-16s %22s %12s %9s %12s %9s%n", "layer", "N x C -> OC", "forward ms", "GFLOP/s", "backward ms",
                "GFLOP/s");
        for (Result r : results) {
            Flops.Linear l = r.layer();
            out.printf(Locale.ROOT, "%-16s %22s %12.4f %9.1f %12.4f %9.1f%n", l.name(),
                    l.n() + " x " + l.c() + " -> " + l.oc(), r.forwardMs(), r.forwardGflops(), r.backwardMs(),
                    r.backwardGflops());
        }
        out.printf(Locale.ROOT, "a training step's Linear products at these speeds: %.3f ms, %.1f GFLOP/s%n",
                stepMs(results), stepGflops(results));
        for (var e : table.libraries().entrySet()) {
            out.printf("beside them, %s on the same buffers (GFLOP/s; the own kernels' as a share of it):%n", e.getKey());
            out.printf("%-16s %22s %12s %9s %12s %9s%n", "layer", "N x C -> OC", "forward", "own/it", "backward", "own/it");
            for (int i = 0; i < results.size(); i++) {
                Result own = results.get(i), lib = e.getValue().get(i);
                Flops.Linear l = own.layer();
                out.printf(Locale.ROOT, "%-16s %22s %12.1f %8.0f%% %12.1f %8.0f%%%n", l.name(),
                        l.n() + " x " + l.c() + " -> " + l.oc(), lib.forwardGflops(),
                        100 * own.forwardGflops() / lib.forwardGflops(), lib.backwardGflops(),
                        100 * own.backwardGflops() / lib.backwardGflops());
            }
            out.printf(Locale.ROOT, "a training step's Linear products with %s: %.3f ms, %.1f GFLOP/s (the own kernels: "
                    + "%.0f%% of it)%n", e.getKey(), stepMs(e.getValue()), stepGflops(e.getValue()),
                    100 * stepGflops(results) / stepGflops(e.getValue()));
        }
        table.notTimed().forEach((lib, why) -> out.printf("%s not timed: %s%n", lib, why));
    }

    /** A training step's Linear products at the speeds of {@code results}, in ms. */
    private static double stepMs(List<Result> results) {
        double ms = 0;
        for (Result r : results) {
            ms += r.layer().perStep() * (r.forwardMs() + r.backwardMs());
        }
        return ms;
    }

    private static double stepGflops(List<Result> results) {
        double flops = 0;
        for (Result r : results) {
            flops += r.layer().perStep() * (r.layer().forward() + r.layer().backward());
        }
        return flops / (stepMs(results) / 1e3) / 1e9;
    }

    /**
     * Into a backend's report: "products", the own kernels' results; "product_libraries", each
     * library's; "product_libraries_not_timed", why one was not.
     */
    static void addTo(JsonObject report, Table table) {
        report.add("products", toJson(table.own()));
        JsonObject libs = new JsonObject();
        table.libraries().forEach((lib, results) -> libs.add(lib, toJson(results)));
        report.add("product_libraries", libs);
        JsonObject not = new JsonObject();
        table.notTimed().forEach(not::addProperty);
        report.add("product_libraries_not_timed", not);
    }

    private static JsonArray toJson(List<Result> results) {
        JsonArray a = new JsonArray();
        for (Result r : results) {
            JsonObject o = new JsonObject();
            o.addProperty("layer", r.layer().name());
            o.addProperty("n", r.layer().n());
            o.addProperty("c", r.layer().c());
            o.addProperty("oc", r.layer().oc());
            o.addProperty("forward_ms", r.forwardMs());
            o.addProperty("forward_gflops", r.forwardGflops());
            o.addProperty("backward_ms", r.backwardMs());
            o.addProperty("backward_gflops", r.backwardGflops());
            a.add(o);
        }
        return a;
    }
}
