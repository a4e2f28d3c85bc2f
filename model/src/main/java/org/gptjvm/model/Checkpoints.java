package org.gptjvm.model;

import org.gptjvm.engine.GptException;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reading and writing models as safetensors under the lecture's PyTorch state_dict names. */
public final class Checkpoints {
    private Checkpoints() {
    }

    /** Every float tensor of a file that is not a reference-file extra, by name. */
    public static Map<String, GptParams.Tensor> tensors(SafeTensors.Contents c, Path file) {
        Map<String, GptParams.Tensor> out = new LinkedHashMap<>();
        c.tensors().forEach((name, e) -> {
            if (e.dtype().equals("F32") || e.dtype().equals("F64")) {
                out.put(name, new GptParams.Tensor(e.shape(), e.floats()));
            }
        });
        if (out.isEmpty()) {
            throw new GptException(file + ": holds no float tensors");
        }
        return out;
    }
}
