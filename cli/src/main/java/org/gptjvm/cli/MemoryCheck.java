package org.gptjvm.cli;

import org.gptjvm.model.Memory;

import java.util.function.Function;

/**
 * Every command's check of a model's memory before it is built ({@link Memory.Estimate#require}),
 * and what an out-of-memory error says afterwards: the last estimate's largest setting, under the
 * name the user gave it.
 */
final class MemoryCheck {
    private static volatile Memory.Estimate last;
    private static volatile Function<Memory.Setting, String> lastLabel;

    private MemoryCheck() {
    }

    /**
     * Refuses {@code e} with one line when its buffers come from the heap ({@code onHeap}) and it
     * exceeds what this JVM may use; {@code label} names each setting as the user gave it.
     */
    static void require(Memory.Estimate e, boolean onHeap, Function<Memory.Setting, String> label) {
        last = e;
        lastLabel = label;
        if (onHeap) {
            e.require(Memory.heapLimit(), label);
        }
    }

    /**
     * The last estimate ({@link #require}) against a device backend's own memory, once the backend is
     * there: a device that reports its memory refuses a model larger than it, before any buffer is made.
     */
    static void requireOnDevice(org.gptjvm.engine.Backend backend) {
        Memory.Estimate e = last;
        long limit = backend.deviceMemory();
        if (e != null && limit != Long.MAX_VALUE && !Memory.onHeap(backend)) {
            e.requireOnDevice(limit, "the device (" + backend.device() + ")", lastLabel);
        }
    }

    /** The model's settings as train's flags. */
    static String flag(Memory.Setting s) {
        return switch (s) {
            case VOCAB_SIZE -> "vocab size (the characters of --data)";
            case BLOCK_SIZE -> "--block-size";
            case N_EMBD -> "--n-embd";
            case N_HEAD -> "--n-head";
            case N_LAYER -> "--n-layer";
            case BATCH_SIZE -> "--batch-size";
        };
    }

    /** The model's settings as the config keys of {@code file}; the batch as {@code batch} names it. */
    static Function<Memory.Setting, String> keysOf(java.nio.file.Path file, String batch) {
        return s -> s == Memory.Setting.BATCH_SIZE ? batch : file + ": " + s.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The out-of-memory error: the setting that is large, as the last check named it, else the usual suspects. */
    static String outOfMemory() {
        Memory.Estimate e = last;
        String advice = "give the JVM more heap (JAVA_OPTS=-Xmx16g)";
        if (e == null) {
            return "out of memory; " + advice + " or use a smaller model or batch (--n-layer, --n-embd, --block-size, "
                    + "--batch-size)";
        }
        Memory.Setting s = e.largest();
        String name = lastLabel.apply(s);
        return "out of memory (the model, " + e.what() + ", needs about " + Memory.bytes(e.bytes()) + "; " + name + " "
                + e.value(s) + " is what makes it large); " + advice + (name.startsWith("--") ? " or use a smaller " + name : "");
    }
}
