package org.gptjvm.model.dist;

import org.gptjvm.engine.GptException;

import java.util.Map;

/** What the launchers that start a job's processes tell each of them: how many there are. */
final class Launchers {
    private Launchers() {
    }

    /**
     * The number of processes in this job: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, a PMI launcher
     * (srun --mpi=pmi2) PMI_SIZE, srun --mpi=pmix PMIX_RANK beside the step's SLURM_STEP_NUM_TASKS; none
     * of them: 1. Slurm's SLURM_NTASKS alone does not make a job (a batch script's one task sees it too).
     */
    static int worldSize(Map<String, String> env) {
        for (String name : new String[]{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
            String v = env.get(name);
            if (v != null && !v.isBlank()) {
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
        if (env.containsKey("PMIX_RANK") && env.containsKey("SLURM_STEP_NUM_TASKS")) {
            try {
                return Math.max(1, Integer.parseInt(env.get("SLURM_STEP_NUM_TASKS").trim()));
            } catch (NumberFormatException e) {
                throw new GptException("SLURM_STEP_NUM_TASKS is '" + env.get("SLURM_STEP_NUM_TASKS") + "', not a process count");
            }
        }
        return 1;
    }
}
