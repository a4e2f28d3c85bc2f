/* The gradients' all-reduce of a data-parallel gpt run, from C: MPI_Allreduce (sum, in place) of
 * COUNT floats (default: the lecture model's 10,788,929 gradients), timed over ITERS calls after one
 * warm-up, beside the same call from Java (org.gptjvm.bench.AllReduceBench). Built and run by
 * bench/mpi/compare.sh: mpicc allreduce.c -o allreduce; mpirun -np 2 ./allreduce [COUNT] [ITERS] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    long count = argc > 1 ? atol(argv[1]) : 10788929L;
    int iters = argc > 2 ? atoi(argv[2]) : 10, rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    float *g = malloc(count * sizeof(float));
    double *ms = malloc(iters * sizeof(double));
    for (int i = 0; i <= iters; i++) {
        for (long j = 0; j < count; j++) g[j] = (float) (rank + 1);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, g, (int) count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (i > 0) ms[i - 1] = 1000 * (MPI_Wtime() - t0);
    }
    float want = size * (size + 1) / 2.0f;
    for (long j = 0; j < count; j++) {
        if (g[j] != want) { fprintf(stderr, "wrong sum at %ld: %f\n", j, g[j]); MPI_Abort(MPI_COMM_WORLD, 1); }
    }
    qsort(ms, iters, sizeof(double), cmp);
    if (rank == 0) printf("C: %d processes, %ld floats: median %.2f ms, min %.2f ms\n", size, count, ms[iters / 2], ms[0]);
    MPI_Finalize();
    return 0;
}
