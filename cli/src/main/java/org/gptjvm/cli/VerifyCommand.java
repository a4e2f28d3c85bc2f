package org.gptjvm.cli;

import org.gptjvm.engine.Backend;
import org.gptjvm.model.parity.Parity;
import org.gptjvm.model.parity.ParityReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, sortOptions = false,
        description = {"Check this engine against PyTorch: recompute the logits, loss, every gradient and the "
                + "AdamW step losses stored in a reference file (made by torch_reference.py) and print the "
                + "errors. Exit 0 when every figure is within the tolerance, 1 otherwise."})
final class VerifyCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--reference", paramLabel = "FILE", required = true, converter = FileArg.class,
            description = "Reference safetensors file with weights, batch and expected.* tensors.")
    Path reference;
    @Option(names = "--tolerance", paramLabel = "TOL",
            description = "Largest norm-wise relative error accepted per quantity (default 1e-5).")
    double tolerance = 1e-5;
    @Mixin
    EngineOptions engine;

    @Override
    public Integer call() {
        engine.check(spec);
        if (!(tolerance > 0 && tolerance < Double.POSITIVE_INFINITY)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tolerance must be a positive number, got "
                    + tolerance);
        }
        ParityReport report;
        try (Backend backend = engine.create()) {
            report = Parity.run(backend, reference);
            System.out.printf("%s on backend %s%n", reference, backend.device());
        }
        System.out.print(report.table());
        long failed = report.rows().stream().filter(r -> !(r.relative() <= tolerance)).count();
        double worst = report.worstRelative();
        if (failed == 0) {
            System.out.printf(Locale.ROOT, "OK: all %d quantities within %.1e (worst %.3e)%n", report.rows().size(),
                    tolerance, worst);
            return 0;
        }
        System.out.printf(Locale.ROOT, "FAILED: %d of %d quantities above %.1e (worst %.3e)%n", failed,
                report.rows().size(), tolerance, worst);
        return 1;
    }
}
