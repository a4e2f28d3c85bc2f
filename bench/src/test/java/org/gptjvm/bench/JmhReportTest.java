package org.gptjvm.bench;

import org.gptjvm.model.train.Preset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JMH report over JSON files JMH wrote in this module's runs (src/test/resources/jmh: a short run
 * whose errors are "NaN", a run with -prof gc's secondary metrics, products and kernels, a throughput
 * run in ops/us, a short run of reference, cpu and tornado on PoCL with the devices its trials noted)
 * and one edited from them with what JMH may also write ("Infinity", no error, no
 * parameters, a score that is no number). The expected figures are worked out here by hand from the
 * scores in those files and the small config (B 16, T 32, C 64, 4 layers, 4 heads, vocabulary 65).
 */
class JmhReportTest {
    /** The small config's training step: 6 FLOPs per weight per token over 200,768 weights, plus attention's 12 L T C per token. */
    private static final double SMALL_STEP_FLOPS = 6.0 * 512 * 200_768 + 12.0 * 4 * 32 * 64 * 512;

    private record Output(int status, String out, String err) {
        /** The table's cells of the row whose first two cells are these (the parameters in full). */
        List<String> row(String benchmark, String params) {
            List<List<String>> found = new ArrayList<>();
            for (String line : out.split("\n")) {
                List<String> cells = Arrays.asList(line.trim().split(" {2,}"));
                if (cells.size() >= 2 && cells.get(0).equals(benchmark) && cells.get(1).equals(params)) {
                    found.add(cells);
                }
            }
            assertEquals(1, found.size(), "one row " + benchmark + " " + params + " in\n" + out);
            return found.getFirst();
        }
    }

    private static Path sample(String name) {
        try {
            return Path.of(JmhReportTest.class.getResource("/jmh/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Output report(Path... files) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status = JmhReport.run(List.of(files), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Output(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static double cell(List<String> row, int i) {
        return Double.parseDouble(row.get(i).replace("x", ""));
    }

    // cells: benchmark, parameters, score, error, unit, tokens/s, GFLOP/s, GB/s, vs fastest

    @Test
    void aShortRunWhoseErrorsAreNaNGivesTokensGflopsAndTheRatioToTheFastest() {
        Output o = report(sample("step-short.json"));
        assertEquals(0, o.status(), o.err());
        List<String> cpu = o.row("TrainingStep.step", "backend=cpu config=small threads=2");
        List<String> ref = o.row("TrainingStep.step", "backend=reference config=small threads=2");
        double cpuMs = 8.860511802954198, refMs = 174.4859215;
        assertEquals("8.861", cpu.get(2));
        assertEquals("n/a", cpu.get(3));
        assertEquals("ms/op", cpu.get(4));
        assertEquals(Math.round(512 / (cpuMs / 1e3)), (long) cell(cpu, 5));
        assertEquals(SMALL_STEP_FLOPS / (cpuMs / 1e3) / 1e9, cell(cpu, 6), 0.005);
        assertEquals("-", cpu.get(7));
        assertEquals("1.00x", cpu.get(8));
        assertEquals(Math.round(512 / (refMs / 1e3)), (long) cell(ref, 5));
        assertEquals(cpuMs / refMs, cell(ref, 8), 0.005);
    }

    @Test
    void secondaryMetricsAreListedUnderTheirRow() {
        Output o = report(sample("step-gc.json"));
        assertEquals(0, o.status(), o.err());
        o.row("TrainingStep.step", "backend=cpu config=small threads=2");
        assertTrue(o.out().contains("gc.alloc.rate.norm: 4.102e+07 B/op (error 1.292e+09)"), o.out());
        assertTrue(o.out().contains("gc.count: 3.000 counts"), o.out());
        assertTrue(o.out().contains("gc.alloc.rate.norm: 1151.111 B/op (error 122.433)"), o.out());
        assertEquals(2, o.out().lines().filter(l -> l.contains("gc.alloc.rate:")).count());
        assertEquals("1090.601", o.row("TrainingStep.step", "backend=cpu config=small threads=2").get(3));
    }

    @Test
    void productsAndKernelsGetGflopsAndKernelsTheirBytes() {
        Output o = report(sample("kernels.json"));
        assertEquals(0, o.status(), o.err());
        // forward: one product of 512 x 64 x 256; backward two
        List<String> fwd = o.row("Matmul.forward", "backend=cpu shape=512x64x256 threads=2");
        assertEquals(2.0 * 512 * 64 * 256 / 96.49585977305507e-6 / 1e9, cell(fwd, 6), 0.005);
        assertEquals("-", fwd.get(5));
        assertEquals("1.00x", fwd.get(8));
        List<String> bwdRef = o.row("Matmul.backward", "backend=reference shape=512x64x256 threads=2");
        assertEquals(4.0 * 512 * 64 * 256 / 10600.787731001152e-6 / 1e9, cell(bwdRef, 6), 0.005);
        assertEquals(192.77263243585696 / 10600.787731001152, cell(bwdRef, 8), 0.005);
        // attention forward: a third of a layer's 12 T C per token; it reads qkv (N x 3C) and writes att and out
        List<String> att = o.row("Kernel.forward", "backend=cpu config=small kernel=attention threads=2");
        double s = 74.99581836330971e-6;
        assertEquals(12.0 * 32 * 64 * 512 / 3 / s / 1e9, cell(att, 6), 0.005);
        assertEquals(4.0 * (512 * 192 + 16 * 4 * 32 * 32 + 512 * 64) / s / 1e9, cell(att, 7), 0.005);
        // layernorm backward: reads dout, x and dx, mean and rstd, w, dw and db; writes dx, dw and db
        List<String> ln = o.row("Kernel.backward", "backend=reference config=small kernel=layernorm threads=2");
        s = 63.76238572486823e-6;
        assertEquals(4.0 * (3 * 512 * 64 + 2 * 512 + 3 * 64 + 512 * 64 + 2 * 64) / s / 1e9, cell(ln, 7), 0.005);
        assertEquals(18.08038969149925 / 63.76238572486823, cell(ln, 8), 0.005);
        // AdamW over every parameter of the small model (p, g, m, v read; p, m, v written)
        List<String> adamw = o.row("Kernel.forward", "backend=cpu config=small kernel=adamw threads=2");
        double params = Preset.small.config(65).parameterCount();
        assertEquals(28.0 * params / 231.0689781462437e-6 / 1e9, cell(adamw, 7), 0.005);
        assertEquals(12.0 * params / 231.0689781462437e-6 / 1e9, cell(adamw, 6), 0.005);
    }

    @Test
    void throughputUnitsAreTurnedIntoTimePerOperation() {
        Output o = report(sample("matmul-thrpt.json"));
        assertEquals(0, o.status(), o.err());
        List<String> bwd = o.row("Matmul.backward", "backend=cpu shape=512x64x192 threads=2");
        assertEquals("0.007159", bwd.get(2));
        assertEquals("ops/us", bwd.get(4));
        assertEquals(4.0 * 512 * 64 * 192 * 0.007159044981921879e6 / 1e9, cell(bwd, 6), 0.005);
    }

    @Test
    void infinityAMissingErrorNoParametersAndANaNScoreArePrintedNotFatal() {
        Output o = report(sample("edge.json"));
        assertEquals(0, o.status(), o.err());
        List<String> inf = o.row("TrainingStep.step", "backend=cpu config=small threads=2");
        assertEquals("inf", inf.get(3));
        assertEquals("1.00x", inf.get(8));
        List<String> noError = o.row("TrainingStep.step", "backend=reference config=small threads=2");
        assertEquals("n/a", noError.get(3));
        assertEquals(8.860511802954198 / 174.4859215, cell(noError, 8), 0.005);
        // an unknown benchmark: JMH's figures alone
        List<String> other = o.out().lines().filter(l -> l.startsWith("Other.run"))
                .map(l -> Arrays.asList(l.trim().split(" {2,}"))).findFirst().orElseThrow();
        assertEquals(List.of("Other.run", "1234.500", "n/a", "ops/s", "-", "-", "-", "-"), other);
        // a score that is no number: no rates, no ratio, and it is not the fastest of its group
        List<String> nan = o.row("TrainingStep.step", "backend=reference config=lecture threads=2");
        assertEquals(List.of("n/a", "n/a", "ms/op", "-", "-", "-", "-"), nan.subList(2, 9));
    }

    @Test
    void manyFilesMakeOneTableAndTheRatioSpansThem() {
        Output o = report(sample("step-short.json"), sample("step-gc.json"));
        assertEquals(0, o.status(), o.err());
        assertEquals(4, o.out().lines().filter(l -> l.startsWith("TrainingStep.step")).count());
        // the fastest small step of both files is the short run's cpu row
        assertEquals(1, o.out().lines().filter(l -> l.startsWith("TrainingStep.step") && l.endsWith("1.00x")).count(),
                o.out());
        assertEquals(8.860511802954198 / 44.04614916071224, cell(o.out().lines()
                .filter(l -> l.startsWith("TrainingStep.step") && l.contains("1090.601"))
                .map(l -> Arrays.asList(l.trim().split(" {2,}"))).findFirst().orElseThrow(), 8), 0.005);
    }

    @Test
    void aRunOnEveryBackendRanksTornadoWithTheRestAndNamesEachDevice() {
        Output o = report(sample("step-tornado.json"));
        assertEquals(0, o.status(), o.err());
        double refMs = 414.35422341825034, cpuMs = 25.36915172671348, tornadoMs = 1396.82319095;
        List<String> tornado = o.row("TrainingStep.step", "backend=tornado config=small threads=2");
        assertEquals(Math.round(512 / (tornadoMs / 1e3)), (long) cell(tornado, 5));
        assertEquals(SMALL_STEP_FLOPS / (tornadoMs / 1e3) / 1e9, cell(tornado, 6), 0.005);
        assertEquals(cpuMs / tornadoMs, cell(tornado, 8), 0.005);
        assertEquals("1.00x", o.row("TrainingStep.step", "backend=cpu config=small threads=2").get(8));
        assertEquals(cpuMs / refMs, cell(o.row("TrainingStep.step", "backend=reference config=small threads=2"), 8), 0.005);
        // under the table, after a blank line: what each backend ran on (tornado: OpenCL on this CPU, no GPU)
        List<String> devices = o.out().lines().filter(l -> l.startsWith("device  ")).toList();
        assertEquals(3, devices.size(), o.out());
        assertEquals("device  tornado    tornado backend, pthread-skylake-avx512-Intel(R) Xeon(R) Processor (OPENCL CPU, "
                + "Portable Computing Language, 21.5 GiB); kernels launched one by one (TornadoVM captures CUDA graphs on "
                + "its PTX and CUDA drivers only)", devices.get(2));
        assertEquals("device  cpu        cpu backend, 2 thread(s), 512-bit vectors; CPU: Intel(R) Xeon(R) Processor, 2 cores",
                devices.get(1));
        List<String> lines = o.out().lines().toList();
        assertEquals("", lines.get(lines.indexOf(devices.getFirst()) - 1));
    }

    @Test
    void devicesComeFromBesideEachFileOnceEachAndAreLeftOutWhereNoneWereNoted(@TempDir Path dir) throws IOException {
        assertTrue(report(sample("step-short.json")).out().lines().noneMatch(l -> l.startsWith("device")));
        Path a = Files.copy(sample("step-short.json"), dir.resolve("a.json"));
        Path b = Files.copy(sample("step-gc.json"), dir.resolve("b.json"));
        Files.writeString(dir.resolve("a.devices"), "cpu\tcpu backend, 2 thread(s)\nreference\treference backend\n"
                + "cpu\tcpu backend, 2 thread(s)\nno tab: not a device line\n");
        Files.writeString(dir.resolve("b.devices"), "cpu\tcpu backend, 2 thread(s)\ncpu\tcpu backend, 1 thread(s)\n");
        Output o = report(a, b);
        assertEquals(0, o.status(), o.err());
        assertEquals(List.of("device  cpu        cpu backend, 2 thread(s)", "device  reference  reference backend",
                "device  cpu        cpu backend, 1 thread(s)"), o.out().lines().filter(l -> l.startsWith("device")).toList());
    }

    @Test
    void theDevicesFileIsTheJsonsSibling() {
        assertEquals(Path.of("out/jmh.devices"), Devices.of(Path.of("out/jmh.json")));
        assertEquals(Path.of("run.devices"), Devices.of(Path.of("run")));
    }

    @Test
    void aFileThatIsNotAJmhResultIsOneLineAndStatusOne(@TempDir Path dir) throws IOException {
        Path empty = Files.writeString(dir.resolve("empty.json"), "[]\n");
        Path object = Files.writeString(dir.resolve("object.json"), "{\"benchmark\": \"x\"}");
        Path broken = Files.writeString(dir.resolve("broken.json"), "[{\"benchmark\": ");
        Path noMetric = Files.writeString(dir.resolve("nometric.json"), "[{\"benchmark\": \"a.B.c\"}]");
        for (Path p : List.of(empty, object, broken, noMetric, dir.resolve("missing.json"))) {
            Output o = report(p);
            assertEquals(1, o.status(), p.toString());
            assertEquals("", o.out(), p.toString());
            assertEquals(1, o.err().lines().count(), o.err());
            assertTrue(o.err().startsWith("JmhReport: "), o.err());
            assertTrue(o.err().contains(p.getFileName().toString()), o.err());
        }
    }
}
