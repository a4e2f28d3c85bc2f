package org.gptjvm.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The progress line of gpt train: it speaks from the start, through evaluations, and counts them in its ETA. */
class ProgressTest {

    @Test
    void theEtaCountsTheEvaluationsTheTrainerWillRun() {
        for (int interval : new int[]{1, 3, 10, 500}) {
            for (int total : new int[]{1, 2, 10, 11, 30, 1000, 5000}) {
                for (int iter = 1; iter <= total; iter++) {
                    long expected = 0;
                    for (int j = iter; j < total; j++) { // Trainer.run's rule, before step j
                        if (j % interval == 0 || j == total - 1) {
                            expected++;
                        }
                    }
                    assertEquals(expected, Terminal.Progress.evaluationsLeft(iter, total, interval),
                            "iter " + iter + " of " + total + ", interval " + interval);
                }
            }
        }
    }

    @Test
    void itSaysWhatIsGoingOnBeforeTheFirstStepAndDuringEvaluations() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        Terminal.Progress p = new Terminal.Progress(out, true, 100);
        p.status("reading the text");
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("reading the text"), bytes::toString);
        p.evaluating(0, 1000);
        assertTrue(bytes.toString(StandardCharsets.UTF_8).contains("evaluating at step 0"), bytes::toString);
        p.evaluated();
        p.update(1, 1000, 4.2f);
        String s = bytes.toString(StandardCharsets.UTF_8);
        // one step is no pace yet: the first pays for start-up
        assertTrue(s.contains("1/1000 loss 4.2000") && s.contains("-- it/s"), s);
    }

    @Test
    void nothingIsDrawnWhereNoOneWatches() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Terminal.Progress p = new Terminal.Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), false, 100);
        p.status("reading the text");
        p.evaluating(0, 10);
        p.evaluationProgress(0, 1, 2);
        p.evaluated();
        p.update(1, 10, 1f);
        p.clear();
        assertEquals(0, bytes.size());
    }
}
