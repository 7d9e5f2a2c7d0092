/* dk_sgemm's worker for AVX-512: 12 x 32 tiles in 24 of the 32 zmm accumulators, the rest for the
 * two B vectors (A's element is broadcast from memory inside each FMA). A tile of up to 10 rows
 * leaves the 8 registers that packing a panel ahead takes beside its 20 accumulators, 2 B vectors
 * and A's broadcast. */
#include "internal.h"

#ifdef DK_HAS_PATHS
typedef float gemm_v16 __attribute__((vector_size(64)));
#define GEMM_VEC gemm_v16
#define GEMM_VL 16
#define GEMM_MR DK_MR_AVX512
#define GEMM_NR DK_NR_AVX512
#define GEMM_TARGET DK_TARGET_AVX512
#define GEMM_AHEAD_MAX_ROWS 10
#define GEMM_RECT dk__gemm_rect_avx512
#include "gemm_kernel.h"
#endif
