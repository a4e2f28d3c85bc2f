package org.gptjvm.cli;

/**
 * Stands in for a training run in {@link SecondSignalTest}: installs gpt's signal handling, whose stop
 * request does nothing (a run busy saving, say), says it is ready and waits.
 */
public final class SecondSignalProbe {
    private SecondSignalProbe() {
    }

    public static void main(String[] args) throws InterruptedException {
        Interrupts.onStop(() -> { }, () -> "nothing more was saved; out/gpt.safetensors holds iteration 7");
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(120_000);
    }
}
