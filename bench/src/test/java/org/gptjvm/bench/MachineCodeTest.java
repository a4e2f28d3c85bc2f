package org.gptjvm.bench;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The machine-code reader on stored nvdisasm listings of the tornado backend's kernels for sm_90
 * (src/test/resources/sass: the small config's gemm and gemmWide through TornadoVM's CUDA and PTX routes,
 * a LayerNorm forward through CUDA, a kernel without a loop through PTX), made by scripts/kernel-sass.sh.
 * The expected figures were counted apart from the reader, from the listings' text (the loop from its
 * label to the branch back, its length from their addresses, 16 bytes an instruction, less NOPs; FFMA
 * and LDS lines in it, the EIATTR_REGCOUNT word).
 */
class MachineCodeTest {
    private static String listing(String name) throws IOException {
        try (InputStream in = new GZIPInputStream(MachineCodeTest.class.getResourceAsStream("/sass/" + name + ".sass.gz"))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static MachineCode.Kernel only(String name) throws IOException {
        List<MachineCode.Kernel> kernels = MachineCode.parse(listing(name));
        assertEquals(1, kernels.size(), name);
        return kernels.getFirst();
    }

    @Test
    void theCudaRoutesGemmLoopIs591InstructionsOf256FfmaWith128ScalarSharedLoads() throws IOException {
        MachineCode.Kernel k = only("gemm-cuda-sm90");
        assertEquals("gemm", k.name());
        assertEquals(95, k.registers());
        assertEquals(0, k.frame());
        assertEquals(0, k.localAccesses());
        assertEquals(9472, k.shared()); // two 64 x 16 float tiles, 256 B more, the runtime's 1 KiB
        assertEquals("loop", k.loop());
        assertEquals(591, k.mix().instructions());
        assertEquals(256, k.mix().ffma());
        assertEquals(Map.of(4, 128), k.mix().sharedLoads());
        assertEquals(8, k.mix().sharedStores());
        assertEquals(Map.of(4, 8), k.mix().globalLoads()); // generic LD.E: TornadoVM's CUDA C marks no pointer global
        assertEquals(2, k.mix().barriers());
        assertEquals(256.0 / 591, k.mix().ffmaShare(), 1e-12);
        assertEquals(2.0, k.mix().ffmaPerSharedLoad(), 1e-12);
        assertEquals("128x4B", MachineCode.Mix.widths(k.mix().sharedLoads()));
        assertEquals(1698, k.instructions()); // 32 of them undecoded, none in the loop
        assertEquals(0, k.mix().undecoded());
        assertEquals(0, k.innerLoops());
    }

    @Test
    void thePtxRoutesGemmHas80RegistersAnd778InstructionsALoop() throws IOException {
        MachineCode.Kernel k = only("gemm-ptx-sm90");
        assertEquals("gemm", MachineCode.javaName(k.name()));
        assertEquals(80, k.registers());
        assertEquals(778, k.mix().instructions()); // 4 of them undecoded: the listing skips their addresses
        assertEquals(4, k.mix().undecoded());
        assertEquals(256, k.mix().ffma());
        assertEquals(Map.of(4, 128), k.mix().sharedLoads());
        assertEquals(Map.of(4, 8), k.mix().globalLoads());
        assertEquals(2112, k.instructions());
    }

    @Test
    void theWideGemmsSliceIsItsLoopOverSlicesWithItsKLoopRunEightTimes() throws IOException {
        // CUDA: the k loop 0x20a0..0x2550, 76 instructions (one undecoded: its counter's VIADD) of 64 FFMA,
        // zeroed before it and compared with 8; the slice loop around it 0x1c30..0x2650, 163 with it once
        MachineCode.Kernel cuda = only("gemmwide-cuda-sm90");
        assertEquals(158, cuda.registers());
        assertEquals(76, cuda.mix().instructions());
        assertEquals(64, cuda.mix().ffma());
        assertEquals(1, cuda.mix().undecoded());
        assertEquals(Map.of(16, 4), cuda.mix().sharedLoads());
        assertEquals(new MachineCode.Slice(8, 163 + 7 * 76, 8 * 64), cuda.slice());
        // PTX: the k loop 0x2970..0x2e30 (77, left while the counter is at least 8), the slice 0x1ae0..0x2e60 (313)
        MachineCode.Kernel ptx = only("gemmwide-ptx-sm90");
        assertEquals(128, ptx.registers());
        assertEquals(0, ptx.localAccesses());
        assertEquals(77, ptx.mix().instructions());
        assertEquals(new MachineCode.Slice(8, 313 + 7 * 77, 8 * 64), ptx.slice());
        assertEquals(512.0 / 852, ptx.slice().ffmaShare(), 1e-12);
        // the 64-wide kernel's k loop is unrolled into its loop over slices (barriers, no loop inside): that
        // loop is the slice, once
        assertEquals(new MachineCode.Slice(1, 591, 256), only("gemm-cuda-sm90").slice());
    }

    @Test
    void aLoopWhoseHeadTheListingCannotShowIsFoundFromItsBranchsEncoding() throws IOException {
        // one of the lecture step's wide GEMMs through CUDA (nvdisasm -hex): its loop over slices starts at
        // 0x1a40, an instruction nvdisasm 11.8 does not decode, whose label the listing leaves out with it;
        // the branch back at 0x2430 says where it goes (its encoding 0xfffffff40080a947: -640 instructions
        // of 4 bytes from 0x2440)
        assertEquals(0x1a40, MachineCode.branchTarget(0x2430, 0xfffffff40080a947L));
        assertEquals(0x1e10, MachineCode.branchTarget(0x22c0, 0xfffffff800d06947L)); // the k loop, labelled .L_x_5
        assertEquals(0x2440, MachineCode.branchTarget(0x0e40, 0x00000014007c0947L)); // forward, labelled .L_x_3
        MachineCode.Kernel k = only("gemmwide-lecture-cuda-sm90");
        assertEquals(152, k.registers());
        assertEquals(76, k.mix().instructions()); // the k loop 0x1e10..0x22c0
        // the slice loop 0x1a40..0x2430: 160 instructions with the k loop once, and 7 more k loops
        assertEquals(new MachineCode.Slice(8, 692, 512), k.slice());
    }

    @Test
    void aCounterSteppedByAnUndecodedViaddGivesTheSlicesTripCount() throws IOException {
        // the lecture step's qkv product through CUDA (nvdisasm -hex), 2 k a pass: its k loop from 0x1670 counts
        // 0, 0x108, ... (two rows of the slice, 2 x 132 floats) while below 0x420, the step added by
        // VIADD R19, R19, 0x108 at 0x1690, which nvdisasm 11.8 does not decode (encoding 0x0000010813137836)
        MachineCode.Instruction viadd = MachineCode.Instruction.undecoded(0x1690, 0x0000010813137836L);
        assertEquals(0x108, viadd.stepOf("R19"));
        assertEquals(0, viadd.stepOf("R18"));
        assertEquals(0, MachineCode.Instruction.undecoded(0x1690, 0).stepOf("R19"));
        assertEquals(8, new MachineCode.Instruction(0, "IADD3", null, null, List.of("R21", "R21", "0x8", "RZ")).stepOf("R21"));
        MachineCode.Kernel k = only("gemmwide-k2-cuda-sm90");
        assertEquals(128, k.registers());
        assertEquals(0, k.localAccesses());
        assertEquals(143, k.mix().instructions());
        assertEquals(128, k.mix().ffma());
        assertEquals(1, k.mix().undecoded());
        assertEquals(Map.of(16, 8), k.mix().sharedLoads());
        assertEquals(new MachineCode.Slice(4, 640, 512), k.slice());
        assertEquals(0.8, k.slice().ffmaShare(), 1e-12);
    }

    @Test
    void aKernelWithoutFfmaInItsLoopsOrWithoutALoop() throws IOException {
        MachineCode.Kernel ln = only("layernorm-forward-cuda-sm90");
        assertEquals(40, ln.registers());
        assertEquals(1536, ln.shared());
        assertEquals(67, ln.mix().instructions());
        assertEquals(16, ln.mix().ffma());
        assertEquals(Double.NaN, ln.mix().ffmaPerSharedLoad());
        MachineCode.Kernel touch = only("touch-ptx-sm90");
        assertEquals("kernel", touch.loop()); // its one branch back is the trap after EXIT
        assertEquals(3, touch.mix().instructions());
        assertEquals(4, touch.registers());
    }

    @Test
    void loadWidthsComeFromTheSizeSuffix() {
        assertEquals(16, new MachineCode.Instruction(0, "LDS.128", null).width());
        assertEquals(16, new MachineCode.Instruction(0, "LDG.E.128.CONSTANT", null).width());
        assertEquals(8, new MachineCode.Instruction(0, "LDS.64", null).width());
        assertEquals(4, new MachineCode.Instruction(0, "LDG.E.CONSTANT", null).width());
        assertEquals(1, new MachineCode.Instruction(0, "LDG.E.U8", null).width());
        MachineCode.Mix mix = MachineCode.Mix.of(List.of(new MachineCode.Instruction(0, "LDS.128", null),
                new MachineCode.Instruction(16, "LDS.128", null), new MachineCode.Instruction(32, "LDS", null),
                new MachineCode.Instruction(48, "NOP", null), new MachineCode.Instruction(64, "FFMA", null)));
        assertEquals("2x16B+1x4B", MachineCode.Mix.widths(mix.sharedLoads()));
        assertEquals(4, mix.instructions()); // the NOP is not counted
    }

    @Test
    void workGroupsPerSmFollowComputeCapability90sLimits() {
        assertEquals(2, MachineCode.groupsPerSm90(95, 9472, 256)); // 3,072 registers a warp: 21 warps
        assertEquals(3, MachineCode.groupsPerSm90(80, 9472, 256)); // 2,560: 25 warps
        assertEquals(2, MachineCode.groupsPerSm90(128, 0, 256)); // the ceiling: two of 256 at 128
        assertEquals(1, MachineCode.groupsPerSm90(168, 0, 256));
        assertEquals(2, MachineCode.groupsPerSm90(32, 0, 1024)); // 64 warps
        assertEquals(2, MachineCode.groupsPerSm90(32, 100 * 1024, 128)); // shared memory: 228 KiB
        assertEquals(32, MachineCode.groupsPerSm90(4, 0, 1)); // at most 32 work-groups
    }

    @Test
    void javaNamesFromBothRoutes() {
        assertEquals("gemm", MachineCode.javaName("gemm"));
        assertEquals("softmaxbackward", MachineCode.javaName("softmaxBackward"));
        assertEquals("forward", MachineCode.javaName(
                "forward_backward6_layernorm_forward_2_forward_org_gptjvm_tornado_stablekernelcontext_1_arrays_floatarray_1_2_64"));
        assertEquals("adamw", MachineCode.javaName("adamw1_adamw_0_adamw_arrays_floatarray_0_209729_arrays_floatarray_209729"));
        assertEquals("touchints", MachineCode.javaName("upload0_touch_args_touchints_arrays_intarray"));
    }

    @Test
    void modulesOfOneKernelMakeOneRowWithTheLaunchSizeAndTheirVariants() throws IOException {
        List<MachineCode.Kernel> gemm = MachineCode.parse(listing("gemm-cuda-sm90"));
        List<MachineCode.Kernel> ln = MachineCode.parse(listing("layernorm-forward-cuda-sm90"));
        MachineCode.Kernel k = gemm.getFirst();
        MachineCode.Kernel other = new MachineCode.Kernel(k.name(), 96, 0, k.shared(), 0, "loop", k.mix(), k.instructions(), 0);
        Map<String, Integer> threads = MachineCode.launches(List.of("gemm block 16 16 1 grid 4 32 1 shared 0",
                "forward block 128 1 1 grid 512 1 1 shared 0", "not a launch"));
        List<MachineCode.Row> rows = MachineCode.route("cuda", new java.util.TreeMap<>(Map.of("006-module.cubin", gemm,
                "007-module.cubin", List.of(other), "005-module.cubin", ln)), threads);
        assertEquals(List.of("forward", "gemm"), rows.stream().map(r -> r.kernel().name()).toList());
        MachineCode.Row g = rows.get(1);
        assertEquals(256, g.threads());
        assertEquals(2, g.modules());
        assertEquals(2, g.variants());
        assertEquals(95, g.kernel().registers()); // the first module's
        assertEquals(2, g.groupsPerSm());
        assertTrue(MachineCode.line(g).contains(" 2/2 "), MachineCode.line(g));
        assertTrue(MachineCode.line(g).contains("128x4B"), MachineCode.line(g));
        assertEquals(128, rows.getFirst().threads());
    }

    @Test
    void variantsGiveARowPerVersionOfAKernelWithItsModules() throws IOException {
        List<MachineCode.Kernel> small = MachineCode.parse(listing("gemmwide-cuda-sm90"));
        List<MachineCode.Kernel> lecture = MachineCode.parse(listing("gemmwide-lecture-cuda-sm90"));
        Map<String, List<MachineCode.Kernel>> modules = new java.util.TreeMap<>(Map.of("001-module.cubin", lecture,
                "002-module.cubin", small, "003-module.cubin", lecture));
        List<MachineCode.Row> rows = MachineCode.variants("cuda", modules, Map.of());
        assertEquals(2, rows.size()); // the first met first
        assertEquals(List.of(152, 158), rows.stream().map(r -> r.kernel().registers()).toList());
        assertEquals(List.of(2, 1), rows.stream().map(MachineCode.Row::modules).toList());
        assertEquals(692, rows.getFirst().kernel().slice().instructions());
        assertEquals(695, rows.get(1).kernel().slice().instructions());
        List<MachineCode.Row> one = MachineCode.route("cuda", modules, Map.of()); // the first module, all counted
        assertEquals(1, one.size());
        assertEquals(3, one.getFirst().modules());
        assertEquals(2, one.getFirst().variants());
    }

    @Test
    void aCuda13HeaderBecomesTheOneCuda11WritesForTheSameArchitecture() {
        byte[] elf = new byte[64];
        elf[0] = 0x7f;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        elf[7] = 0x41;
        elf[8] = 8;
        ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN).putInt(48, 0x6005a04); // CUDA 13's flags for sm_90
        byte[] legacy = MachineCode.legacyHeader(elf);
        assertEquals(0x33, legacy[7]);
        assertEquals(7, legacy[8]);
        assertEquals(0x5a055a, ByteBuffer.wrap(legacy).order(ByteOrder.LITTLE_ENDIAN).getInt(48));
        assertEquals(0x41, elf[7]); // a copy
        assertThrows(IllegalArgumentException.class, () -> MachineCode.legacyHeader(new byte[64]));
    }
}
