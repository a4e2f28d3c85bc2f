package org.gptjvm.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import org.gptjvm.engine.Backend;
import org.gptjvm.engine.FloatBuf;
import org.gptjvm.engine.Launch;
import org.gptjvm.engine.Program;
import org.gptjvm.model.Flops;
import org.gptjvm.model.Rng;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

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
     * Times each layer's products on {@code be}: every buffer is allocated and every program
     * compiled first (a device backend then builds its plan once), then each program runs
     * {@code warmup} times untimed and {@code iters} times timed.
     */
    static List<Result> time(Backend be, List<Flops.Linear> layers, int warmup, int iters) {
        Rng rng = new Rng(1337);
        List<Program[]> programs = new ArrayList<>();
        for (Flops.Linear l : layers) {
            int n = l.n(), c = l.c(), oc = l.oc();
            FloatBuf inp = random(be, rng, "inp", n * c), w = random(be, rng, "w", oc * c), b = random(be, rng, "b", oc);
            FloatBuf out = random(be, rng, "out", n * oc), dout = random(be, rng, "dout", n * oc);
            FloatBuf dinp = random(be, rng, "dinp", n * c), dw = random(be, rng, "dw", oc * c), db = random(be, rng, "db", oc);
            List<Launch> fwd = new ArrayList<>(), bwd = new ArrayList<>();
            for (int r = 0; r < REPS; r++) {
                fwd.add(be.matmulForward(out, inp, w, b, n, c, oc));
                // the gradients accumulate run after run; random inputs in [-0.5, 0.5) keep them finite
                bwd.add(be.matmulBackward(dinp, dw, db, dout, inp, w, n, c, oc));
            }
            programs.add(new Program[]{be.compile("products_forward", fwd), be.compile("products_backward", bwd)});
        }
        List<Result> results = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            Program[] p = programs.get(i);
            results.add(new Result(layers.get(i), medianMs(p[0], warmup, iters) / REPS, medianMs(p[1], warmup, iters) / REPS));
        }
        return results;
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
     * runs it, forward and backward (attention's own products are not among them).
     */
    static void print(PrintStream out, List<Result> results) {
        out.printf("%-16s %22s %12s %9s %12s %9s%n", "layer", "N x C -> OC", "forward ms", "GFLOP/s", "backward ms",
                "GFLOP/s");
        double ms = 0, flops = 0;
        for (Result r : results) {
            Flops.Linear l = r.layer();
            out.printf(Locale.ROOT, "%-16s %22s %12.4f %9.1f %12.4f %9.1f%n", l.name(),
                    l.n() + " x " + l.c() + " -> " + l.oc(), r.forwardMs(), r.forwardGflops(), r.backwardMs(),
                    r.backwardGflops());
            ms += l.perStep() * (r.forwardMs() + r.backwardMs());
            flops += l.perStep() * (l.forward() + l.backward());
        }
        out.printf(Locale.ROOT, "a training step's Linear products at these speeds: %.3f ms, %.1f GFLOP/s%n", ms,
                flops / (ms / 1e3) / 1e9);
    }

    static JsonArray toJson(List<Result> results) {
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
