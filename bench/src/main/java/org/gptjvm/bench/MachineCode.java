package org.gptjvm.bench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What NVIDIA's machine code (SASS, as {@code nvdisasm} prints a cubin) says about each kernel: its
 * registers, stack frame, static shared memory and spill instructions, and the instruction mix of its
 * main loop, the loop that holds the most FFMAs (fewest instructions on a tie; for a kernel without
 * FFMA, the loop with the most instructions; for one without a loop, the whole kernel). A loop is a
 * branch back to a label above it; its body is every instruction from the label to the branch, those
 * of loops nested in it included, so the figures are per iteration of that body. NOPs are not
 * counted; a loop nested in the main loop is counted once (the table marks the main loop "loop+N"
 * where it holds N of them). A load's width is its size suffix ({@code .64}: 8 bytes, {@code .128}: 16, {@code .U8}: 1;
 * none: 4).
 *
 * <p>Every 16 bytes of a kernel's code is one instruction: where the listing skips an address, the
 * instruction there is one this nvdisasm cannot decode (CUDA 11.8's reads sm_90 code but drops some
 * of its newer instructions, VIADD among them), and it is counted all the same, as undecoded. Its
 * label goes with it: where a branch names a label the listing lacks, the branch's encoding (the
 * listing is made with {@code -hex}) says which address it goes to.
 *
 * <p>Where the main loop runs a constant number of times inside an enclosing loop (the GEMMs' loop
 * over the k of a staged slice, inside the loop over slices), the table also gives that enclosing
 * loop per iteration, the main loop counted as often as it runs: a slice with its staging. The trip
 * count is read off the main loop's counter: zeroed before the loop (in the enclosing loop), compared with a constant
 * for the branch back (taken while it is below: {@code ISETP.NE} or {@code .LT}, or {@code .GE} with the
 * branch's guard negated), and written in the loop by nothing but one increment by a constant step
 * before the compare ({@code IADD3 R, R, imm}, or sm_90's {@code VIADD R, R, imm}, which this
 * nvdisasm skips: read from its encoding, or taken for an increment by 1 in a listing without
 * encodings); it runs limit / step times. Any other shape gives no slice figure. A main loop with
 * FFMAs, barriers and no loop inside it stages its slices itself (its k loop unrolled into it): it is the
 * slice, once ({@code 1x}).
 */
public final class MachineCode {
    private MachineCode() {
    }

    /** One instruction: its address, opcode with suffixes (LDS.128), and the label it branches to (null: none). */
    record Instruction(int address, String opcode, String target, String predicate, List<String> operands, long encoding) {
        /** An instruction without a guard or operands worth reading. */
        Instruction(int address, String opcode, String target) {
            this(address, opcode, target, null, List.of(), 0);
        }

        Instruction(int address, String opcode, String target, String predicate, List<String> operands) {
            this(address, opcode, target, predicate, operands, 0);
        }

        /** An instruction nvdisasm skipped (see the class comment), with the first 64 bits of its encoding (0: unknown). */
        static Instruction undecoded(int address, long encoding) {
            return new Instruction(address, UNDECODED, null, null, List.of(), encoding);
        }

        /**
         * The immediate this instruction adds to register {@code r}, in place ({@code IADD3 R, R, imm, RZ},
         * or a skipped sm_90 {@code VIADD R, R, imm}, read from its encoding: opcode 0x836 in bits 0-11,
         * destination in 16-23, source in 24-31, immediate in 32-63); 0 where it is not such an add.
         */
        int stepOf(String r) {
            if (opcode.equals(UNDECODED)) {
                int reg = Integer.parseInt(r.substring(1));
                boolean viadd = (encoding & 0xfff) == 0x836 && ((encoding >>> 16) & 0xff) == reg && ((encoding >>> 24) & 0xff) == reg;
                return viadd ? (int) (encoding >>> 32) : 0;
            }
            if (predicate == null && base().equals("IADD3") && operands.size() == 4 && operands.get(0).equals(r)
                    && operands.get(1).equals(r) && operands.get(2).matches("0x[0-9a-f]+") && operands.get(3).equals("RZ")) {
                return (int) Long.parseLong(operands.get(2).substring(2), 16);
            }
            return 0;
        }

        /** Whether it writes register {@code r} (its first operand; CS2R writes that one and the next). */
        boolean writes(String r) {
            if (operands.isEmpty() || opcode.equals(UNDECODED)) {
                return false;
            }
            String d = operands.getFirst();
            if (d.equals(r)) {
                return true;
            }
            return base().equals("CS2R") && d.matches("R\\d+") && r.equals("R" + (Integer.parseInt(d.substring(1)) + 1));
        }

        String base() {
            int dot = opcode.indexOf('.');
            return dot < 0 ? opcode : opcode.substring(0, dot);
        }

        /** The bytes a load or store moves (4 unless a size suffix says otherwise). */
        int width() {
            for (String part : opcode.split("\\.")) {
                switch (part) {
                    case "64" -> {
                        return 8;
                    }
                    case "128" -> {
                        return 16;
                    }
                    case "U8", "S8" -> {
                        return 1;
                    }
                    case "U16", "S16" -> {
                        return 2;
                    }
                    default -> {
                    }
                }
            }
            return 4;
        }
    }

    /** The opcode of an instruction the listing skips. */
    static final String UNDECODED = "?";

    /** The instruction mix of a stretch of code ({@code undecoded}: of its instructions, those nvdisasm skipped). */
    record Mix(int instructions, int ffma, Map<Integer, Integer> sharedLoads, Map<Integer, Integer> globalLoads,
               int sharedStores, int globalStores, int barriers, int localAccesses, int undecoded) {
        static Mix of(List<Instruction> code) {
            int n = 0, ffma = 0, sts = 0, stg = 0, bar = 0, local = 0, undecoded = 0;
            Map<Integer, Integer> lds = new TreeMap<>(), ldg = new TreeMap<>();
            for (Instruction i : code) {
                String b = i.base();
                if (b.equals("NOP")) {
                    continue;
                }
                n++;
                switch (b) {
                    case "FFMA" -> ffma++;
                    case "LDS" -> lds.merge(i.width(), 1, Integer::sum);
                    // generic loads and stores count with the global ones: TornadoVM's CUDA C does not mark its
                    // arrays' pointers global, so NVRTC's code reaches them with LD and ST
                    case "LDG", "LD" -> ldg.merge(i.width(), 1, Integer::sum);
                    case "STS" -> sts++;
                    case "STG", "ST" -> stg++;
                    case "BAR" -> bar++;
                    case "LDL", "STL" -> local++;
                    case UNDECODED -> undecoded++;
                    default -> {
                    }
                }
            }
            return new Mix(n, ffma, lds, ldg, sts, stg, bar, local, undecoded);
        }

        int sharedLoadCount() {
            return sharedLoads.values().stream().mapToInt(Integer::intValue).sum();
        }

        double ffmaShare() {
            return instructions == 0 ? 0 : (double) ffma / instructions;
        }

        /** FFMAs per shared load (NaN without one). */
        double ffmaPerSharedLoad() {
            int l = sharedLoadCount();
            return l == 0 ? Double.NaN : (double) ffma / l;
        }

        /** "32x16B+8x4B": count times width, widest first. */
        static String widths(Map<Integer, Integer> loads) {
            if (loads.isEmpty()) {
                return "0";
            }
            StringBuilder sb = new StringBuilder();
            loads.entrySet().stream().sorted((a, b) -> b.getKey() - a.getKey()).forEach(e ->
                    sb.append(sb.isEmpty() ? "" : "+").append(e.getValue()).append('x').append(e.getKey()).append('B'));
            return sb.toString();
        }
    }

    /**
     * A kernel: its name, registers per work-item, stack frame bytes, shared memory bytes per work-group
     * (the cubin's {@code .nv.shared} section: the kernel's arrays and, from sm_90 on, the 1 KiB the
     * runtime reserves, which {@code ptxas -v} leaves out), its spill instructions (local loads and
     * stores) in the whole kernel, its main loop's mix, and its instruction count.
     *
     * @param loop "loop" (a loop's body), or "kernel" (no loop: the whole kernel)
     */
    record Kernel(String name, int registers, int frame, int shared, int localAccesses, String loop, Mix mix,
                  int instructions, int innerLoops, Slice slice) {
        Kernel(String name, int registers, int frame, int shared, int localAccesses, String loop, Mix mix,
               int instructions, int innerLoops) {
            this(name, registers, frame, shared, localAccesses, loop, mix, instructions, innerLoops, null);
        }
    }

    /**
     * The loop around the main loop, per iteration, the main loop's {@code trips} runs counted (see
     * the class comment): its instructions and FFMAs.
     */
    record Slice(int trips, int instructions, int ffma) {
        double ffmaShare() {
            return instructions == 0 ? 0 : (double) ffma / instructions;
        }
    }

    private static final Pattern INSTRUCTION = Pattern.compile(
            "^\\s*/\\*([0-9a-f]{4,})\\*/\\s+(?:(@!?U?P[T0-9]+)\\s+)?([A-Z][A-Z0-9_]*(?:\\.[A-Z0-9_]+)*)(.*)$");
    private static final Pattern TARGET = Pattern.compile("`\\(?(\\.L_x_\\d+)\\)?");
    private static final Pattern LABEL = Pattern.compile("^(\\.L_x_\\d+):");
    /** The first 64 bits of an instruction's encoding, as {@code nvdisasm -hex} prints them after it. */
    private static final Pattern ENCODING = Pattern.compile("/\\*\\s*0x([0-9a-f]{16})\\s*\\*/\\s*$");
    /** A line with nothing but an encoding: an instruction's second 64 bits, or a skipped instruction's halves. */
    private static final Pattern ENCODING_ONLY = Pattern.compile("^\\s*/\\*\\s*0x([0-9a-f]{16})\\s*\\*/\\s*$");
    private static final Pattern TEXT = Pattern.compile("^\\s*\\.section\\s+\\.text\\.([^,\\s]+)");
    private static final Pattern SECTION = Pattern.compile("^\\s*\\.section\\s+(\\S+?),");
    private static final Pattern INDEX = Pattern.compile("\\.word\\s+index@\\(([^)]+)\\)");
    private static final Pattern WORD = Pattern.compile("\\.word\\s+0x([0-9a-f]+)");
    private static final Pattern SHARED = Pattern.compile("^\\.nv\\.shared\\.(\\S+):$");
    private static final Pattern ZERO = Pattern.compile("^\\s*\\.zero\\s+(\\d+)");

    /** The kernels of one cubin's full {@code nvdisasm} listing (not {@code -c}: the attributes hold the registers). */
    static List<Kernel> parse(String listing) {
        Map<String, List<Instruction>> code = new LinkedHashMap<>();
        Map<String, Map<String, Integer>> labels = new HashMap<>();
        Map<String, Map<Integer, Integer>> branches = new HashMap<>();
        Map<String, Integer> registers = new HashMap<>(), frames = new HashMap<>(), shared = new HashMap<>();
        String text = null, attribute = null, indexed = null, sharedName = null;
        // the encodings of the instructions nvdisasm skips since the last it printed: the lines of
        // encoding after that one's second, two per skipped instruction (the first 64 bits first)
        List<Long> skipped = new ArrayList<>();
        int halves = 0;
        for (String line : listing.split("\n")) {
            Matcher m;
            if (text != null && (m = ENCODING_ONLY.matcher(line)).find()) {
                if (halves++ >= 1 && halves % 2 == 0) {
                    skipped.add(Long.parseUnsignedLong(m.group(1), 16));
                }
                continue;
            }
            if ((m = SECTION.matcher(line)).find()) {
                m = TEXT.matcher(line);
                text = m.find() ? m.group(1) : null;
                if (text != null) {
                    code.putIfAbsent(text, new ArrayList<>());
                    labels.putIfAbsent(text, new HashMap<>());
                }
                attribute = null;
                continue;
            }
            if (line.contains("nvinfo : ")) {
                attribute = line.substring(line.indexOf("nvinfo : ") + 9).trim();
                indexed = null;
                continue;
            }
            if (attribute != null && text == null) {
                if ((m = INDEX.matcher(line)).find()) {
                    indexed = m.group(1);
                } else if (indexed != null && (m = WORD.matcher(line)).find()) {
                    int v = (int) Long.parseLong(m.group(1), 16);
                    switch (attribute) {
                        case "EIATTR_REGCOUNT" -> registers.put(indexed, v);
                        case "EIATTR_FRAME_SIZE" -> frames.put(indexed, v);
                        default -> {
                        }
                    }
                    indexed = null;
                }
            }
            if ((m = SHARED.matcher(line.trim())).find()) {
                sharedName = m.group(1);
                continue;
            }
            if (sharedName != null && (m = ZERO.matcher(line)).find()) {
                shared.merge(sharedName, Integer.parseInt(m.group(1)), Integer::sum);
                sharedName = null;
                continue;
            }
            if (text == null) {
                continue;
            }
            if ((m = LABEL.matcher(line.trim())).find()) {
                labels.get(text).put(m.group(1), code.get(text).size());
                continue;
            }
            if ((m = INSTRUCTION.matcher(line)).find()) {
                List<Instruction> body = code.get(text);
                int address = Integer.parseInt(m.group(1), 16);
                int next = body.isEmpty() ? 0 : body.getLast().address() + 16;
                for (int a = next, q = 0; a < address; a += 16, q++) {
                    body.add(Instruction.undecoded(a, q < skipped.size() ? skipped.get(q) : 0));
                }
                skipped.clear();
                halves = 0;
                Matcher t = TARGET.matcher(m.group(4));
                String rest = m.group(4).replaceAll(";.*$", "").trim();
                List<String> operands = rest.isEmpty() ? List.of()
                        : List.of(rest.split("\\s*,\\s*")).stream().map(o -> o.replace(".reuse", "")).toList();
                String target = t.find() ? t.group(1) : null;
                Matcher enc = ENCODING.matcher(m.group(4));
                if (target != null && m.group(3).startsWith("BRA") && enc.find()) {
                    // where the branch goes, from its encoding: a label nvdisasm leaves out with the
                    // instruction it cannot decode there is found by address
                    branches.computeIfAbsent(text, x -> new HashMap<>()).put(body.size(),
                            branchTarget(address, Long.parseUnsignedLong(enc.group(1), 16)));
                }
                body.add(new Instruction(address, m.group(3), target, m.group(2), operands));
            }
        }
        List<Kernel> kernels = new ArrayList<>();
        for (var e : code.entrySet()) {
            String name = e.getKey();
            List<Instruction> body = e.getValue();
            List<int[]> loops = loops(body, labels.get(name), branches.getOrDefault(name, Map.of()));
            int[] main = mainLoop(body, loops);
            Mix all = Mix.of(body);
            kernels.add(new Kernel(name, registers.getOrDefault(name, -1), frames.getOrDefault(name, 0),
                    shared.getOrDefault(name, 0), all.localAccesses(), main == null ? "kernel" : "loop",
                    Mix.of(main == null ? body : body.subList(main[0], main[1] + 1)), all.instructions(),
                    main == null ? 0 : innerLoops(loops, main), main == null ? null : slice(body, loops, main)));
        }
        return kernels;
    }

    /** The loops of a kernel: {first, last} instruction index of each branch back. */
    static List<int[]> loops(List<Instruction> code, Map<String, Integer> labels) {
        return loops(code, labels, Map.of());
    }

    /**
     * The same, where {@code branchTo} gives the address a branch (by its index) goes to, from its
     * encoding: a target whose label the listing lacks is the instruction at that address.
     */
    static List<int[]> loops(List<Instruction> code, Map<String, Integer> labels, Map<Integer, Integer> branchTo) {
        List<int[]> loops = new ArrayList<>();
        for (int i = 0; i < code.size(); i++) {
            Instruction in = code.get(i);
            Integer start = in.target() == null || !in.base().equals("BRA") ? null : labels.get(in.target());
            if (start == null && in.target() != null && in.base().equals("BRA") && branchTo.containsKey(i)) {
                int to = branchTo.get(i);
                start = to >= 0 && to % 16 == 0 && to / 16 < code.size() && code.get(to / 16).address() == to ? to / 16 : null;
            }
            if (start != null && start < i) { // a branch to itself is the trap after the kernel's exit
                loops.add(new int[]{start, i});
            }
        }
        return loops;
    }

    /** The main loop of {@code loops} (see the class comment); null where the kernel has none. */
    private static int[] mainLoop(List<Instruction> code, List<int[]> loops) {
        int[] best = null;
        Mix bestMix = null;
        for (int[] loop : loops) {
            Mix mix = Mix.of(code.subList(loop[0], loop[1] + 1));
            if (bestMix == null || better(mix, bestMix)) {
                best = loop;
                bestMix = mix;
            }
        }
        return best;
    }

    /**
     * The address a branch at {@code address} goes to, from the first 64 bits of its encoding (sm_70 on):
     * a signed offset in instructions of 4 bytes from the next instruction, its low 8 bits at bit 16 and
     * the rest from bit 34 on.
     */
    static int branchTarget(int address, long encoding) {
        long offset = (encoding >> 34 << 8) | ((encoding >>> 16) & 0xff); // >> keeps the sign
        return (int) (address + 16 + 4 * offset);
    }

    /** The loop around {@code main} per iteration, {@code main} counted as often as it runs (null: unknown or none). */
    static Slice slice(List<Instruction> code, List<int[]> loops, int[] main) {
        int[] outer = null;
        for (int[] l : loops) {
            if (l != main && l[0] <= main[0] && l[1] >= main[1] && (outer == null || l[1] - l[0] < outer[1] - outer[0])) {
                outer = l;
            }
        }
        Mix in = Mix.of(code.subList(main[0], main[1] + 1));
        boolean inner = loops.stream().anyMatch(l -> l != main && l[0] >= main[0] && l[1] <= main[1]);
        if (in.barriers() > 0 && in.ffma() > 0 && !inner) {
            return new Slice(1, in.instructions(), in.ffma()); // it stages its slice itself: its k loop is unrolled in it
        }
        int trips = trips(code, main, outer == null ? 0 : outer[0]);
        if (outer == null || trips < 1) {
            return null;
        }
        Mix o = Mix.of(code.subList(outer[0], outer[1] + 1));
        return new Slice(trips, o.instructions() + (trips - 1) * in.instructions(), o.ffma() + (trips - 1) * in.ffma());
    }

    /**
     * How often a loop runs where its counter shows it (see the class comment); 0 where it does not.
     * The counter's zeroing is looked for between {@code from} (the enclosing loop's first instruction)
     * and the loop.
     */
    static int trips(List<Instruction> code, int[] loop, int from) {
        Instruction branch = code.get(loop[1]);
        if (branch.predicate() == null) {
            return 0;
        }
        boolean negated = branch.predicate().startsWith("@!");
        String p = branch.predicate().substring(negated ? 2 : 1);
        int compare = -1;
        for (int i = loop[1] - 1; i >= loop[0] && compare < 0; i--) {
            Instruction in = code.get(i);
            if (!in.operands().isEmpty() && in.operands().getFirst().equals(p)) {
                compare = i;
            }
        }
        if (compare < 0) {
            return 0;
        }
        Instruction c = code.get(compare);
        List<String> ops = c.operands();
        // the branch back is taken while the counter is below the constant: NE or LT with the guard, GE without
        String cond = negated ? "GE" : "(NE|LT)";
        if (!c.opcode().matches("ISETP\\." + cond + "(\\.U32)?\\.AND") || ops.size() != 5 || !ops.get(1).equals("PT")
                || !ops.get(4).equals("PT") || !ops.get(2).matches("R\\d+") || !ops.get(3).matches("0x[0-9a-f]+")) {
            return 0;
        }
        String counter = ops.get(2);
        int limit = Integer.parseInt(ops.get(3).substring(2), 16);
        // zeroed just before the loop
        boolean zeroed = false;
        for (int i = loop[0] - 1; i >= from; i--) {
            Instruction in = code.get(i);
            if (in.writes(counter)) {
                // MOV R, RZ; IMAD.MOV.U32 R, RZ, RZ, RZ; CS2R R, SRZ; HFMA2.MMA R, -RZ, RZ, 0, 0 (a zero through the FMA pipe)
                List<String> src = in.operands().subList(1, in.operands().size());
                zeroed = in.predicate() == null && List.of("MOV", "IMAD", "CS2R", "HFMA2").contains(in.base())
                        && !src.isEmpty() && src.stream().allMatch(o -> o.matches("-?S?RZ|0|0x0"));
                break;
            }
        }
        if (!zeroed) {
            return 0;
        }
        // in the loop, written only by one increment by a constant before the compare
        int step = 0, unknown = 0;
        for (int i = loop[0]; i <= loop[1]; i++) {
            Instruction in = code.get(i);
            if (in.opcode().equals(UNDECODED) && in.encoding() == 0 && i < compare) {
                unknown++; // a listing without encodings (not made with -hex): taken for sm_90's VIADD R, R, 0x1
            }
            int s = in.stepOf(counter);
            if (s > 0) {
                if (i > compare || step > 0) {
                    return 0;
                }
                step = s;
            } else if (in.writes(counter)) {
                return 0;
            }
        }
        if (step == 0 && unknown > 0) {
            step = 1;
        }
        return step > 0 && limit % step == 0 ? limit / step : 0;
    }

    /** Loops inside the main loop (their instructions are counted once, whatever their trip count). */
    private static int innerLoops(List<int[]> loops, int[] main) {
        return (int) loops.stream().filter(l -> l != main && l[0] >= main[0] && l[1] <= main[1]).count();
    }

    private static boolean better(Mix a, Mix b) {
        if (a.ffma() != b.ffma()) {
            return a.ffma() > b.ffma();
        }
        return a.ffma() > 0 ? a.instructions() < b.instructions() : a.instructions() > b.instructions();
    }

    /**
     * Work-groups of {@code threads} work-items one SM of compute capability 9.0 holds at once, by its
     * registers (65,536 per SM, allocated per warp in units of 256), shared memory (228 KiB per SM;
     * {@code sharedBytes} as the cubin's section says, which holds the 1 KiB the runtime reserves per
     * work-group), warps (64) and work-groups (32).
     */
    static int groupsPerSm90(int registers, int sharedBytes, int threads) {
        int warps = (threads + 31) / 32;
        int perWarp = ((Math.max(registers, 1) * 32 + 255) / 256) * 256;
        int byRegisters = (65536 / perWarp) / warps;
        int bySharedMemory = (228 * 1024) / Math.max(sharedBytes, 1024);
        return Math.min(Math.min(byRegisters, bySharedMemory), Math.min(64 / warps, 32));
    }

    /**
     * A kernel as compiled by one route: the figures of its first module, the work-group size its
     * launches used (0: unknown), how many modules held it, and how many of those differ in registers,
     * instructions or FFMAs (a route that compiles a module per task may specialise each on its
     * arguments: the PTX backend does).
     */
    record Row(String route, Kernel kernel, int threads, int modules, int variants) {
        int groupsPerSm() {
            return threads == 0 ? 0 : groupsPerSm90(kernel.registers(), kernel.shared(), threads);
        }
    }

    /**
     * The kernel's Java method in a TornadoVM entry name, in lower case: the PTX backend names an
     * entry after its graph, task and method ({@code forward_backward6_matmul_forward_12_gemm}, the
     * method lower-cased), the CUDA backend after the method alone ({@code softmaxBackward}); either
     * may append the argument types ({@code _arrays_...}).
     */
    static String javaName(String entry) {
        String n = entry.replaceAll("_(uk_ac|arrays|org_gptjvm)_.*$", "");
        return n.substring(n.lastIndexOf('_') + 1).toLowerCase(Locale.ROOT);
    }

    /** The rows of one route's cubins (module file name to its kernels), one per kernel name, in name order. */
    static List<Row> route(String route, Map<String, List<Kernel>> byModule, Map<String, Integer> threads) {
        Map<String, List<Kernel>> byName = new TreeMap<>();
        for (List<Kernel> kernels : byModule.values()) {
            for (Kernel k : kernels) {
                byName.computeIfAbsent(javaName(k.name()), n -> new ArrayList<>()).add(k);
            }
        }
        List<Row> rows = new ArrayList<>();
        byName.forEach((name, ks) -> rows.add(row(route, name, ks, threads,
                (int) ks.stream().map(k -> List.of(k.registers(), k.instructions(), k.mix().ffma())).distinct().count())));
        return rows;
    }

    /**
     * The row of modules {@code ks} of kernel {@code name}: the first one's figures under the kernel's
     * Java name, the work-group size of the first of them launched, their count.
     */
    private static Row row(String route, String name, List<Kernel> ks, Map<String, Integer> threads, int variants) {
        Kernel first = ks.getFirst();
        int launched = ks.stream().mapToInt(k -> threads.getOrDefault(k.name(), 0)).filter(t -> t > 0).findFirst()
                .orElse(0);
        return new Row(route, new Kernel(name, first.registers(), first.frame(), first.shared(), first.localAccesses(),
                first.loop(), first.mix(), first.instructions(), first.innerLoops(), first.slice()), launched, ks.size(),
                variants);
    }

    /**
     * The same rows split by variant: one row per kernel and distinct machine code (registers, frame,
     * spills, main loop and slice), in the order first met, its module count the modules that have it.
     * A kernel compiled once per task (TornadoVM specialises each task on its scalar arguments) shows
     * every version the step runs, not only its first.
     */
    static List<Row> variants(String route, Map<String, List<Kernel>> byModule, Map<String, Integer> threads) {
        Map<String, Map<List<Object>, List<Kernel>>> byName = new TreeMap<>();
        for (List<Kernel> kernels : byModule.values()) {
            for (Kernel k : kernels) {
                Slice sl = k.slice();
                List<Object> key = List.of(k.registers(), k.frame(), k.localAccesses(), k.mix().instructions(),
                        k.mix().ffma(), sl == null ? List.of() : List.of(sl.trips(), sl.instructions(), sl.ffma()));
                byName.computeIfAbsent(javaName(k.name()), n -> new LinkedHashMap<>())
                        .computeIfAbsent(key, x -> new ArrayList<>()).add(k);
            }
        }
        List<Row> rows = new ArrayList<>();
        byName.forEach((name, groups) -> groups.values().forEach(ks -> rows.add(row(route, name, ks, threads, 1))));
        return rows;
    }

    /** Work-items per work-group of each launched entry, from the stand-in driver's launches.txt lines. */
    static Map<String, Integer> launches(List<String> lines) {
        Map<String, Integer> threads = new HashMap<>();
        for (String l : lines) {
            String[] f = l.trim().split("\\s+");
            if (f.length >= 5 && f[1].equals("block")) {
                threads.put(f[0], Integer.parseInt(f[2]) * Integer.parseInt(f[3]) * Integer.parseInt(f[4]));
            }
        }
        return threads;
    }

    static final String HEADER = String.format(Locale.ROOT,
            "%-5s %-20s %7s %4s %5s %6s %6s %5s | %-6s %5s %5s %5s %-13s %8s %-12s %4s | %-10s %5s", "route", "kernel",
            "modules", "regs", "frame", "spills", "smem", "wg/SM", "main", "instr", "FFMA", "FFMA%", "shared loads",
            "FFMA/lds", "global loads", "bars", "slice", "FFMA%");

    /** A row of the table: modules as "count" or "count/variants" where they differ. */
    static String line(Row r) {
        Kernel k = r.kernel();
        Mix m = k.mix();
        double perLoad = m.ffmaPerSharedLoad();
        String modules = r.variants() > 1 ? r.modules() + "/" + r.variants() : Integer.toString(r.modules());
        Slice sl = k.slice();
        return String.format(Locale.ROOT, "%-5s %-20s %7s %4d %5d %6d %6d %5s | %-6s %5d %5d %4.0f%% %-13s %8s %-12s %4d | %-10s %5s",
                r.route(), k.name(), modules, k.registers(), k.frame(), k.localAccesses(), k.shared(),
                r.threads() == 0 ? "-" : Integer.toString(r.groupsPerSm()),
                k.innerLoops() > 0 ? k.loop() + "+" + k.innerLoops() : k.loop(), m.instructions(), m.ffma(),
                100 * m.ffmaShare(), Mix.widths(m.sharedLoads()), Double.isNaN(perLoad) ? "-"
                        : String.format(Locale.ROOT, "%.1f", perLoad), Mix.widths(m.globalLoads()), m.barriers(),
                sl == null ? "-" : sl.instructions() + " (" + sl.trips() + "x)",
                sl == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * sl.ffmaShare()));
    }

    static JsonObject json(Row r) {
        Kernel k = r.kernel();
        Mix m = k.mix();
        JsonObject o = new JsonObject();
        o.addProperty("route", r.route());
        o.addProperty("kernel", k.name());
        o.addProperty("modules", r.modules());
        o.addProperty("variants", r.variants());
        o.addProperty("registers", k.registers());
        o.addProperty("frameBytes", k.frame());
        o.addProperty("spillInstructions", k.localAccesses());
        o.addProperty("sharedBytes", k.shared());
        o.addProperty("workItemsPerGroup", r.threads());
        o.addProperty("groupsPerSm", r.groupsPerSm());
        o.addProperty("instructions", k.instructions());
        JsonObject loop = new JsonObject();
        loop.addProperty("scope", k.loop());
        loop.addProperty("innerLoops", k.innerLoops());
        loop.addProperty("instructions", m.instructions());
        loop.addProperty("ffma", m.ffma());
        loop.addProperty("ffmaShare", m.ffmaShare());
        loop.add("sharedLoadsByBytes", new Gson().toJsonTree(m.sharedLoads()));
        loop.add("globalLoadsByBytes", new Gson().toJsonTree(m.globalLoads()));
        loop.addProperty("sharedStores", m.sharedStores());
        loop.addProperty("globalStores", m.globalStores());
        loop.addProperty("barriers", m.barriers());
        loop.addProperty("ffmaPerSharedLoad", Double.isNaN(m.ffmaPerSharedLoad()) ? null : m.ffmaPerSharedLoad());
        loop.addProperty("undecoded", m.undecoded());
        o.add("mainLoop", loop);
        if (k.slice() != null) {
            JsonObject sl = new JsonObject();
            sl.addProperty("mainLoopTrips", k.slice().trips());
            sl.addProperty("instructions", k.slice().instructions());
            sl.addProperty("ffma", k.slice().ffma());
            sl.addProperty("ffmaShare", k.slice().ffmaShare());
            o.add("slice", sl);
        }
        return o;
    }

    /**
     * A copy of a CUDA 12/13 cubin that older disassemblers read: the same machine code, with the ELF
     * header's OS/ABI (byte 7), ABI version (byte 8) and flags (offset 48) as CUDA 11 writes them for the
     * same architecture.
     */
    static byte[] legacyHeader(byte[] cubin) {
        if (cubin.length < 52 || cubin[0] != 0x7f || cubin[1] != 'E' || cubin[2] != 'L' || cubin[3] != 'F') {
            throw new IllegalArgumentException("not an ELF file");
        }
        byte[] b = cubin.clone();
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int sm = (h.getInt(48) >>> 8) & 0xff;
        b[7] = 0x33;
        b[8] = 7;
        h.putInt(48, sm | 0x500 | (sm << 16));
        return b;
    }

    /** nvdisasm's full listing of a cubin. */
    static String disassemble(String nvdisasm, Path cubin) throws IOException, InterruptedException {
        Path copy = Files.createTempFile("kernel", ".cubin");
        try {
            Files.write(copy, legacyHeader(Files.readAllBytes(cubin)));
            Process p = new ProcessBuilder(nvdisasm, "-hex", copy.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException(nvdisasm + " failed on " + cubin + ": " + out.lines().findFirst().orElse(""));
            }
            return out;
        } finally {
            Files.deleteIfExists(copy);
        }
    }

    /**
     * {@code MachineCode [--nvdisasm PATH] [--kernels REGEX] [--variants] [--json FILE] ROUTE=DIR...}: the
     * table of every cubin in each route's folder (and its launches.txt, where the stand-in driver wrote
     * one), a row per kernel (its first module) or with {@code --variants} per version of it
     * ({@link #variants}), the JSON of the same rows to FILE.
     */
    public static void main(String[] args) throws Exception {
        String nvdisasm = "nvdisasm", json = null;
        boolean byVariant = false;
        Pattern kernels = Pattern.compile(".");
        List<String[]> routes = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--nvdisasm" -> nvdisasm = args[++i];
                case "--json" -> json = args[++i];
                case "--kernels" -> kernels = Pattern.compile(args[++i]);
                case "--variants" -> byVariant = true;
                default -> {
                    String[] r = args[i].split("=", 2);
                    if (r.length != 2) {
                        System.err.println("usage: MachineCode [--nvdisasm PATH] [--kernels REGEX] [--variants] [--json FILE] ROUTE=DIR...");
                        System.exit(2);
                    }
                    routes.add(r);
                }
            }
        }
        List<Row> rows = new ArrayList<>();
        for (String[] r : routes) {
            Path dir = Path.of(r[1]);
            Map<String, List<Kernel>> modules = new TreeMap<>();
            try (var files = Files.list(dir)) {
                for (Path f : files.filter(f -> f.toString().endsWith(".cubin")).sorted().toList()) {
                    modules.put(f.getFileName().toString(), parse(disassemble(nvdisasm, f)));
                }
            }
            Path log = dir.resolve("launches.txt");
            Map<String, Integer> threads = Files.exists(log) ? launches(Files.readAllLines(log))
                    : Map.of();
            for (Row row : byVariant ? variants(r[0], modules, threads) : route(r[0], modules, threads)) {
                if (kernels.matcher(row.kernel().name()).find()) {
                    rows.add(row);
                }
            }
        }
        System.out.println(HEADER);
        rows.forEach(r -> System.out.println(line(r)));
        if (json != null) {
            JsonArray a = new JsonArray();
            rows.forEach(r -> a.add(json(r)));
            Files.writeString(Path.of(json),
                    new GsonBuilder().setPrettyPrinting().create().toJson(a) + "\n");
        }
    }
}
