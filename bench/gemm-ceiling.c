/* The GEMM ceiling of a training step: the products of one mini-batch's forward and
 * backward, as the engine calls them (native/engine/dense.h through blas.cc), timed with
 * nothing else around them, against the same OpenBLAS and the same thread count
 * (OPENBLAS_NUM_THREADS, read when the library loads). bench/gemm-ceiling.ts compiles it
 * with cc and runs it; what it prints is one JSON object.
 *
 *   gemm-ceiling SECONDS NAME:TA:TB:M:N:K [...]
 *
 * Each product is C (M x N) = op(A) op(B) in row-major with alpha 1, beta 0, TA and TB 0 or
 * 1 (transposed), exactly the engine's gemm(transposeA, transposeB, m, n, k, ...). Two
 * figures per product list:
 *   alone:    each product repeated by itself (hot caches);
 *   sequence: the products one after another in the order given, each on its own
 *             operands, as a step runs them.
 * Each is the fastest of 5 rounds: a ceiling, which other work on the machine can only
 * slow down.
 * Operands are uniform in [-1, 1): no subnormals, whatever the CPU's denormal mode. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* OpenBLAS's CBLAS ABI, declared here so that the program needs no header path. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a,
                 int lda, const float *b, int ldb, float beta, float *c, int ldc);
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);

typedef struct {
  char name[64];
  int transA, transB, m, n, k;
  float *a, *b, *c;
} Product;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *operand(long count) {
  float *values = malloc(sizeof(float) * count);
  if (values == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (long i = 0; i < count; i++) values[i] = (float)rand() / ((float)RAND_MAX + 1.0f) * 2.0f - 1.0f;
  return values;
}

/* The engine's gemm: leading dimensions of the row-major operands as stored. */
static void run(const Product *p) {
  cblas_sgemm(ROW_MAJOR, p->transA ? TRANS : NO_TRANS, p->transB ? TRANS : NO_TRANS, p->m, p->n, p->k, 1.0f, p->a,
              p->transA ? p->m : p->k, p->b, p->transB ? p->k : p->n, 0.0f, p->c, p->n);
}

static int ascending(const void *left, const void *right) {
  double a = *(const double *)left, b = *(const double *)right;
  return (a > b) - (a < b);
}

/* Seconds per run of products [first, last): the fastest of 5 rounds of about `budget`
 * seconds each. */
static double fastest_seconds(const Product *products, int first, int last, double budget) {
  for (int warm = 0; warm < 3; warm++)
    for (int i = first; i < last; i++) run(&products[i]);
  double started = now();
  for (int i = first; i < last; i++) run(&products[i]);
  double once = now() - started;
  long calls = once > 0 ? (long)(budget / once) : 1000;
  if (calls < 1) calls = 1;
  double rounds[5];
  for (int round = 0; round < 5; round++) {
    started = now();
    for (long call = 0; call < calls; call++)
      for (int i = first; i < last; i++) run(&products[i]);
    rounds[round] = (now() - started) / calls;
  }
  qsort(rounds, 5, sizeof(double), ascending);
  return rounds[0];
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s SECONDS NAME:TA:TB:M:N:K [...]\n", argv[0]);
    return 1;
  }
  double budget = atof(argv[1]);
  int count = argc - 2;
  Product *products = calloc(count, sizeof(Product));
  srand(1);
  for (int i = 0; i < count; i++) {
    Product *p = &products[i];
    if (sscanf(argv[i + 2], "%63[^:]:%d:%d:%d:%d:%d", p->name, &p->transA, &p->transB, &p->m, &p->n, &p->k) != 6) {
      fprintf(stderr, "not NAME:TA:TB:M:N:K: %s\n", argv[i + 2]);
      return 1;
    }
    p->a = operand((long)p->m * p->k);
    p->b = operand((long)p->k * p->n);
    p->c = operand((long)p->m * p->n);
  }
  Dl_info library = {0};
  dladdr((void *)cblas_sgemm, &library);
  printf("{\"openblas\":{\"core\":\"%s\",\"config\":\"%s\",\"threads\":%d,\"library\":\"%s\"},\"products\":[",
         openblas_get_corename(), openblas_get_config(), openblas_get_num_threads(),
         library.dli_fname == NULL ? "" : library.dli_fname);
  for (int i = 0; i < count; i++) {
    const Product *p = &products[i];
    double seconds = fastest_seconds(products, i, i + 1, budget);
    printf("%s{\"product\":\"%s\",\"transA\":%d,\"transB\":%d,\"m\":%d,\"n\":%d,\"k\":%d,\"seconds\":%.9g,\"gflops\":%.6g}",
           i == 0 ? "" : ",", p->name, p->transA, p->transB, p->m, p->n, p->k, seconds,
           2.0 * p->m * p->n * p->k / seconds / 1e9);
  }
  printf("],\"sequence_seconds\":%.9g}\n", fastest_seconds(products, 0, count, budget));
  return 0;
}
