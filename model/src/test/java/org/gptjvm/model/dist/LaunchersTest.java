package org.gptjvm.model.dist;

import org.gptjvm.engine.GptException;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The job's size and launcher from each launcher's environment, as mpirun, srun (each --mpi plugin)
 * and sbatch set it: the variables below are those seen on Debian's Slurm 22.05 and Open MPI 4.1.
 */
class LaunchersTest {
    /** srun -n 2 --mpi=pmix: task 1's variables (no PMI_SIZE, no OMPI_COMM_WORLD_SIZE). */
    private static final Map<String, String> SRUN_PMIX = Map.of("SLURM_STEP_NUM_TASKS", "2", "SLURM_PROCID", "1",
            "SLURM_NTASKS", "2", "PMIX_RANK", "1", "PMIX_NAMESPACE", "slurm.pmix.2.0");
    /** srun -n 2 --mpi=pmi2. */
    private static final Map<String, String> SRUN_PMI2 = Map.of("SLURM_STEP_NUM_TASKS", "2", "SLURM_PROCID", "0",
            "PMI_SIZE", "2", "PMI_RANK", "0", "PMI_FD", "11");
    /** srun -n 2 --mpi=none (Slurm's default MpiDefault). */
    private static final Map<String, String> SRUN_NONE = Map.of("SLURM_STEP_NUM_TASKS", "2", "SLURM_PROCID", "1",
            "SLURM_NTASKS", "2");
    /** mpirun -np 2 inside an sbatch allocation: its daemons are an srun step of one task per node. */
    private static final Map<String, String> MPIRUN_IN_SLURM = Map.of("OMPI_COMM_WORLD_SIZE", "2",
            "OMPI_COMM_WORLD_RANK", "1", "PMIX_RANK", "1", "SLURM_STEP_NUM_TASKS", "1", "SLURM_NTASKS", "2");

    @Test
    void eachLauncherGivesTheJobsSize() {
        assertEquals(1, Launchers.worldSize(Map.of()));
        assertEquals(2, Launchers.worldSize(Map.of("OMPI_COMM_WORLD_SIZE", "2", "PMIX_RANK", "0")));
        assertEquals(2, Launchers.worldSize(SRUN_PMIX));
        assertEquals(2, Launchers.worldSize(SRUN_PMI2));
        assertEquals(2, Launchers.worldSize(MPIRUN_IN_SLURM));
        // srun -n 1, any plugin: one process
        assertEquals(1, Launchers.worldSize(Map.of("SLURM_STEP_NUM_TASKS", "1", "SLURM_PROCID", "0")));
        assertEquals(1, Launchers.worldSize(Map.of("SLURM_STEP_NUM_TASKS", "1", "PMIX_RANK", "0")));
        // an sbatch script itself (the batch step): SLURM_NTASKS, no step variables
        assertEquals(1, Launchers.worldSize(Map.of("SLURM_NTASKS", "2", "SLURM_NPROCS", "2", "SLURM_PROCID", "0",
                "SLURM_JOB_ID", "8")));
    }

    @Test
    void anSrunStepWithoutMpiIsRefusedInOneLine() {
        GptException e = assertThrows(GptException.class, () -> Launchers.worldSize(SRUN_NONE));
        assertEquals("this process is one of 2 tasks that srun started without MPI (srun --mpi=none, Slurm's default): "
                + "start a data-parallel run with srun --mpi=pmix, a run of its own with srun -n 1", e.getMessage());
    }

    @Test
    void aValueThatIsNotAProcessCountIsRefused() {
        for (String name : new String[]{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"}) {
            for (String v : new String[]{"two", "0", "-1"}) {
                Map<String, String> env = Map.of(name, v, "PMIX_RANK", "0");
                GptException e = assertThrows(GptException.class, () -> Launchers.worldSize(env), name + "=" + v);
                assertEquals(name + " is '" + v + "', not a process count", e.getMessage());
            }
        }
        assertTrue(assertThrows(GptException.class, () -> Launchers.worldSize(Map.of("SLURM_STEP_NUM_TASKS", "x")))
                .getMessage().startsWith("SLURM_STEP_NUM_TASKS is 'x'"));
    }

    @Test
    void theCommandToStartAJobIsTheLaunchersOwn() {
        assertEquals("mpirun -np 4", Launchers.command(Map.of(), 4));
        assertEquals("mpirun -np 2", Launchers.command(Map.of("OMPI_COMM_WORLD_SIZE", "2"), 2));
        assertEquals("mpirun -np 2", Launchers.command(MPIRUN_IN_SLURM, 2));
        assertEquals("srun --mpi=pmix -n 2", Launchers.command(SRUN_PMIX, 2));
        assertEquals("srun --mpi=pmi2 -n 3", Launchers.command(SRUN_PMI2, 3));
        // one task of srun resuming a job of two: srun's own way, with the plugin Open MPI needs
        assertEquals("srun --mpi=pmix -n 2", Launchers.command(Map.of("SLURM_STEP_NUM_TASKS", "1"), 2));
    }
}
