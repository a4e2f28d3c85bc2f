package org.gptjvm.model.train;

import org.gptjvm.engine.Backend;
import org.gptjvm.engine.GptException;
import org.gptjvm.engine.ref.ReferenceBackend;
import org.gptjvm.model.Gpt;
import org.gptjvm.model.GptConfig;
import org.gptjvm.model.GptParams;
import org.gptjvm.model.Seeds;
import org.gptjvm.model.data.TextData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.gptjvm.model.ModelTestSupport.assertBitIdentical;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checkpoints written on their own thread: the weights as they were when saved, in order, errors reported. */
class CheckpointWriterTest {

    @Test
    void writesTheSnapshotNotTheLaterWeightsAndTheLastSaveWins(@TempDir Path dir) {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = new GptConfig(GptConfig.GPT, data.tokenizer().vocabSize(), 8, 12, 3, 2, 0f);
        Path file = dir.resolve("m.safetensors");
        try (Backend be = new ReferenceBackend(1); CheckpointWriter writer = new CheckpointWriter()) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(3));
            Trainer t = new Trainer(gpt, data, new TrainOptions(4, 1e-2, 4, 4, 1, 3));
            t.step();
            var afterOne = gpt.params.stateDict();
            writer.save(Checkpoint.snapshot(file, gpt, t.optimizer(), data.tokenizer(), t.state()));
            t.step(); // changes the weights while the first file may still be being written
            writer.flush();
            assertBitIdentical(afterOne, weightsIn(file, afterOne));
            for (int i = 0; i < 3; i++) {
                t.step();
                writer.save(Checkpoint.snapshot(file, gpt, t.optimizer(), data.tokenizer(), t.state()));
            }
            writer.flush();
            assertEquals(5, Checkpoint.load(file).train.iteration());
            var now = gpt.params.stateDict();
            assertBitIdentical(now, weightsIn(file, now));
        }
    }

    /** The file's tensors named as in {@code like} (the weights, not the AdamW moments beside them). */
    private static java.util.Map<String, GptParams.Tensor> weightsIn(Path file, java.util.Map<String, GptParams.Tensor> like) {
        var all = Checkpoint.load(file).weights;
        var m = new java.util.LinkedHashMap<String, GptParams.Tensor>();
        like.keySet().forEach(k -> m.put(k, all.get(k)));
        return m;
    }

    @Test
    void aFailedWriteIsReportedByTheNextCall(@TempDir Path dir) throws Exception {
        TextData data = ReproducibilityTest.text();
        GptConfig cfg = new GptConfig(GptConfig.GPT, data.tokenizer().vocabSize(), 8, 12, 3, 2, 0f);
        Path blocker = Files.writeString(dir.resolve("not-a-dir"), "x");
        try (Backend be = new ReferenceBackend(1)) {
            Gpt gpt = new Gpt(be, cfg);
            gpt.params.initialize(Seeds.init(3));
            CheckpointWriter writer = new CheckpointWriter();
            writer.save(Checkpoint.snapshot(blocker.resolve("m.safetensors"), gpt, null, data.tokenizer(), null));
            GptException e = assertThrows(GptException.class, writer::flush);
            assertTrue(e.getMessage() != null && !e.getMessage().contains("\n"), e.getMessage());
            writer.close(); // the error was reported once; closing is quiet
        }
    }
}
