package org.gptjvm.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** --checkpoint, shared by sample and eval. */
final class ModelOptions {
    @Option(names = "--checkpoint", paramLabel = "FILE", converter = FileArg.class,
            description = "Model file written by 'gpt train' or a PyTorch weights file (default: out/gpt.safetensors).")
    Path checkpoint = Path.of("out", "gpt.safetensors");
}
