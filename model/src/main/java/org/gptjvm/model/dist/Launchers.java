package org.gptjvm.model.dist;

import org.gptjvm.engine.GptException;

import java.util.Map;

/** What the launchers that start a job's processes tell each of them: how many there are, and who started them. */
final class Launchers {
    private Launchers() {
    }

    /**
     * The number of processes in this job: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, a PMI launcher
     * (srun --mpi=pmi2) PMI_SIZE, srun --mpi=pmix PMIX_RANK beside the step's SLURM_STEP_NUM_TASKS; none
     * of them: 1. Slurm's SLURM_NTASKS alone does not make a job (a batch script's one task sees it too).
     * An srun step of several tasks with none of them (srun --mpi=none, which is Slurm's default
     * MpiDefault) is refused: its tasks would each train a model of their own, on the same files.
     */
    static int worldSize(Map<String, String> env) {
        for (String name : new String[]{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
            String v = env.get(name);
            if (v != null && !v.isBlank()) {
                return count(name, v);
            }
        }
        String tasks = env.get("SLURM_STEP_NUM_TASKS");
        if (tasks == null) {
            return 1;
        }
        int n = count("SLURM_STEP_NUM_TASKS", tasks);
        if (env.containsKey("PMIX_RANK") || n == 1) {
            return n;
        }
        throw new GptException("this process is one of " + n + " tasks that srun started without MPI (srun --mpi=none, "
                + "Slurm's default): start a data-parallel run with srun --mpi=pmix, a run of its own with srun -n 1");
    }

    /**
     * How to start a job of {@code processes} as this one was started, for a command gpt prints: srun
     * with this step's MPI plugin inside an srun step, else mpirun.
     */
    static String command(Map<String, String> env, int processes) {
        if (!env.containsKey("OMPI_COMM_WORLD_SIZE") && env.containsKey("SLURM_STEP_NUM_TASKS")) {
            String mpi = env.containsKey("PMIX_RANK") || !env.containsKey("PMI_SIZE") ? "pmix" : "pmi2";
            return "srun --mpi=" + mpi + " -n " + processes;
        }
        return "mpirun -np " + processes;
    }

    private static int count(String name, String v) {
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new GptException(name + " is '" + v + "', not a process count");
    }
}
