package org.gptjvm.model.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.gptjvm.engine.GptException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The safetensors format (8-byte little-endian header length, a JSON header of
 * {name: {dtype, shape, data_offsets}} plus {@code __metadata__} of strings, then the raw
 * little-endian data). The reader treats the file as untrusted: every length and offset is checked
 * before anything is allocated from it.
 */
public final class SafeTensors {
    private static final long MAX_HEADER = 100L << 20;

    /** A tensor as stored: dtype, shape and raw bytes. */
    public record Entry(String dtype, int[] shape, ByteBuffer bytes) {
        public long elements() {
            long n = 1;
            for (int s : shape) {
                n *= s;
            }
            return n;
        }

        public float[] floats() {
            float[] a = new float[(int) elements()];
            switch (dtype) {
                case "F32" -> bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a);
                case "F64" -> {
                    var d = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asDoubleBuffer();
                    for (int i = 0; i < a.length; i++) {
                        a[i] = (float) d.get(i);
                    }
                }
                case "F16" -> {
                    var h = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
                    for (int i = 0; i < a.length; i++) {
                        a[i] = Float.float16ToFloat(h.get(i));
                    }
                }
                case "BF16" -> {
                    // bfloat16 is the upper half of a float32: exact, as PyTorch's .float()
                    var h = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asShortBuffer();
                    for (int i = 0; i < a.length; i++) {
                        a[i] = Float.intBitsToFloat(h.get(i) << 16);
                    }
                }
                default -> throw new GptException("tensor of dtype " + dtype + " where floats were expected");
            }
            return a;
        }

        public int[] ints() {
            int[] a = new int[(int) elements()];
            switch (dtype) {
                case "I32" -> bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(a);
                case "I64" -> {
                    var d = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
                    for (int i = 0; i < a.length; i++) {
                        a[i] = Math.toIntExact(d.get(i));
                    }
                }
                default -> throw new GptException("tensor of dtype " + dtype + " where ints were expected");
            }
            return a;
        }
    }

    /** A whole file read into memory. */
    public record Contents(Map<String, Entry> tensors, Map<String, String> metadata) {
        public Entry get(String name, Path file) {
            Entry e = tensors.get(name);
            if (e == null) {
                throw new GptException(file + ": missing tensor " + name);
            }
            return e;
        }
    }

    private SafeTensors() {
    }

    private static int dtypeSize(String dtype) {
        return switch (dtype) {
            case "F32", "I32" -> 4;
            case "F64", "I64" -> 8;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL" -> 1;
            default -> -1;
        };
    }

    /**
     * The {@code __metadata__} of a safetensors file, reading only its header; null when the file
     * is not a readable safetensors file.
     */
    public static Map<String, String> metadataOrNull(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            if (size < 8 || ch.read(len, 0) != 8) {
                return null;
            }
            long headerLen = len.flip().getLong();
            if (headerLen <= 1 || headerLen > MAX_HEADER || headerLen > size - 8) {
                return null;
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonObject json = JsonParser.parseString(new String(header.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            Map<String, String> meta = new LinkedHashMap<>();
            if (json.has("__metadata__")) {
                json.getAsJsonObject("__metadata__").entrySet().forEach(e -> meta.put(e.getKey(), e.getValue().getAsString()));
            }
            return meta;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** A tensor as the header describes it: dtype, shape, and its bytes [begin, end) of the data section. */
    public record Info(String dtype, int[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (int s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /**
     * A file's header, checked against the file: every tensor's dtype known, shape of whole numbers,
     * byte length that of its shape, bytes within the file's data section, none overlapping.
     */
    public record Header(Path file, long dataBytes, Map<String, Info> tensors, Map<String, String> metadata) {
    }

    /** Whether {@code dtype} is one {@link Entry#floats} converts to float32 (F64 aside, for reference files). */
    public static boolean isFloat16Or32(String dtype) {
        return dtype.equals("F32") || dtype.equals("F16") || dtype.equals("BF16");
    }

    public static Contents read(Path file) {
        return read(file, h -> {
        });
    }

    /**
     * Reads {@code file}: its header first, which {@code beforeData} may check (and refuse by
     * throwing) before the data section is read into memory.
     */
    public static Contents read(Path file, java.util.function.Consumer<Header> beforeData) {
        if (!Files.exists(file)) {
            throw new GptException(file + ": no such file");
        }
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new GptException(file + ": not a readable file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new GptException(file + ": not a safetensors file (only " + size + " bytes)");
            }
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLen = len.flip().getLong();
            // an unsigned 64-bit count: beyond Long.MAX_VALUE it reads as negative here, and is shown as written
            if (headerLen <= 1 || headerLen > MAX_HEADER || headerLen > size - 8) {
                throw new GptException(file + ": not a safetensors file (header length " + Long.toUnsignedString(headerLen)
                        + (Long.compareUnsigned(headerLen, size - 8) > 0 ? ", beyond the end of the file of " : " for a file of ")
                        + size + " bytes)");
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            JsonObject json;
            try {
                json = JsonParser.parseString(new String(header.array(), StandardCharsets.UTF_8)).getAsJsonObject();
            } catch (RuntimeException e) {
                throw new GptException(file + ": not a safetensors file (header is not a JSON object)");
            }
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            Header h = parse(file, json, dataLen);
            beforeData.accept(h);
            if (dataLen > Integer.MAX_VALUE - 8) {
                throw new GptException(file + ": larger than 2 GiB of tensor data, not supported");
            }
            if (dataLen > org.gptjvm.model.Memory.heapLimit()) {
                throw new GptException(file + ": " + org.gptjvm.model.Memory.bytes(dataLen) + " of tensors; this JVM may use "
                        + org.gptjvm.model.Memory.bytes(org.gptjvm.model.Memory.heapLimit()) + " (-Xmx): give it more (JAVA_OPTS=-Xmx...)");
            }
            ByteBuffer data = ByteBuffer.allocate((int) dataLen);
            readFully(ch, data, dataStart);
            Map<String, Entry> tensors = new LinkedHashMap<>();
            h.tensors().forEach((name, i) -> tensors.put(name,
                    new Entry(i.dtype(), i.shape(), data.slice((int) i.begin(), (int) (i.end() - i.begin())))));
            return new Contents(Collections.unmodifiableMap(tensors), h.metadata());
        } catch (IOException e) {
            throw new GptException(file + ": cannot read: " + e.getMessage());
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            pos += n;
        }
    }

    private static Header parse(Path file, JsonObject json, long dataLen) {
        Map<String, Info> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : json.entrySet()) {
            String name = printable(e.getKey());
            try {
                JsonObject o = e.getValue().getAsJsonObject();
                if (e.getKey().equals("__metadata__")) {
                    for (Map.Entry<String, JsonElement> m : o.entrySet()) {
                        meta.put(m.getKey(), m.getValue().getAsString());
                    }
                    continue;
                }
                String dtype = o.get("dtype").getAsString();
                int width = dtypeSize(dtype);
                if (width < 0) {
                    throw new GptException(file + ": tensor " + name + " has unknown dtype " + printable(dtype));
                }
                var shapeJson = o.get("shape").getAsJsonArray();
                int[] shape = new int[shapeJson.size()];
                long elements = 1;
                for (int i = 0; i < shape.length; i++) {
                    long d = JsonNumbers.whole(shapeJson.get(i), file + ": tensor " + name + ": shape " + clip(shapeJson)
                            + ": each size", 0, Integer.MAX_VALUE);
                    shape[i] = (int) d;
                    elements *= d;
                    if (elements > Integer.MAX_VALUE) {
                        throw new GptException(file + ": tensor " + name + " is too large " + clip(shapeJson));
                    }
                }
                var off = o.get("data_offsets").getAsJsonArray();
                if (off.size() != 2) {
                    throw new GptException(file + ": tensor " + name + " has data_offsets " + clip(off)
                            + ", not [begin, end]");
                }
                long begin = JsonNumbers.whole(off.get(0), file + ": tensor " + name + ": data_offsets " + clip(off)
                        + ": begin", 0, Long.MAX_VALUE);
                long end = JsonNumbers.whole(off.get(1), file + ": tensor " + name + ": data_offsets " + clip(off)
                        + ": end", 0, Long.MAX_VALUE);
                if (end < begin || end > dataLen) {
                    throw new GptException(file + ": tensor " + name + " has offsets " + clip(off)
                            + " outside the " + dataLen + " bytes of data (truncated file?)");
                }
                if (end - begin != elements * width) {
                    throw new GptException(file + ": tensor " + name + " holds " + (end - begin) + " bytes but its shape "
                            + clip(shapeJson) + " of " + dtype + " needs " + elements * width);
                }
                ranges.add(new long[]{begin, end});
                tensors.put(e.getKey(), new Info(dtype, shape, begin, end));
            } catch (GptException ex) {
                throw ex;
            } catch (RuntimeException ex) {
                throw new GptException(file + ": malformed header entry for " + name);
            }
        }
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        for (int i = 1; i < ranges.size(); i++) {
            if (ranges.get(i)[0] < ranges.get(i - 1)[1]) {
                throw new GptException(file + ": tensors overlap in the data section");
            }
        }
        return new Header(file, dataLen, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(meta));
    }

    /** A JSON value of an untrusted file, cut short for a one-line error. */
    private static String clip(JsonElement e) {
        String s = printable(e.toString());
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    /** {@code s} with control characters shown as '?': names from an untrusted file go into one-line errors. */
    private static String printable(String s) {
        return s.codePoints().map(c -> Character.isISOControl(c) ? '?' : c)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
    }

    /** A tensor to write: F32 or I32 data with a shape. */
    public record Out(int[] shape, float[] f32, int[] i32) {
        public static Out f32(int[] shape, float[] data) {
            return new Out(shape, data, null);
        }

        public static Out i32(int[] shape, int[] data) {
            return new Out(shape, null, data);
        }

        int bytes() {
            return 4 * (f32 != null ? f32.length : i32.length);
        }
    }

    /** Writes the tensors to {@code file} with {@link AtomicFile}: a crash leaves the old file or the new one. */
    public static void write(Path file, Map<String, Out> tensors, Map<String, String> metadata) {
        JsonObject header = new JsonObject();
        JsonObject meta = new JsonObject();
        metadata.forEach(meta::addProperty);
        header.add("__metadata__", meta);
        long offset = 0;
        for (Map.Entry<String, Out> e : tensors.entrySet()) {
            JsonObject t = new JsonObject();
            t.addProperty("dtype", e.getValue().f32 != null ? "F32" : "I32");
            var shape = new com.google.gson.JsonArray();
            Arrays.stream(e.getValue().shape()).forEach(shape::add);
            t.add("shape", shape);
            var off = new com.google.gson.JsonArray();
            off.add(offset);
            offset += e.getValue().bytes();
            off.add(offset);
            t.add("data_offsets", off);
            header.add(e.getKey(), t);
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8; // keep the data 8-byte aligned, as the reference writer does
        byte[] hp = Arrays.copyOf(h, padded);
        Arrays.fill(hp, h.length, padded, (byte) ' ');
        AtomicFile.write(file, os -> {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            os.write(hp);
            for (Out o : tensors.values()) {
                ByteBuffer b = ByteBuffer.allocate(o.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                if (o.f32 != null) {
                    b.asFloatBuffer().put(o.f32);
                } else {
                    b.asIntBuffer().put(o.i32);
                }
                os.write(b.array());
            }
        });
    }
}
