/* One-pass forward + backward kernels for losskit's elementwise regression losses.
 *
 * For r = x - y each kernel writes g = scale * l'(r) and returns sum(l(r)),
 * accumulated in double. Compiled at first use by losskit/functional/fused/_native.py
 * and called through ctypes; nothing here depends on Python or torch headers.
 *
 * NaN and inf propagate exactly as in the reference torch formulas: a NaN
 * residual gives a NaN loss and a NaN gradient (l1: 0, as torch's sign(NaN)),
 * an infinite one an infinite loss and the limiting gradient (sign(r) * delta,
 * sign(r), +-1).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
#endif

enum { LK_MSE = 0, LK_L1 = 1, LK_HUBER = 2, LK_LOG_COSH = 3 };

#define LK_BLOCK 8192
/* blocks per scheduling chunk: 2 MiB of float32 gradient, so that concurrent threads fault in
   different (huge) pages of a fresh buffer instead of queueing on the same one */
#define LK_CHUNK 64

/* ---------------------------------------------------------------- float32 log-cosh
 * |r| < 1: log cosh a = a^2 P(a^2), tanh a = a Q(a^2) (Chebyshev fits on [0, 1],
 *          relative error < 5e-9);
 * |r| >= 1: t = exp(-2a) <= e^-2, log cosh a = a - log 2 + log1p(t),
 *          tanh a = (1 - t) / (1 + t), both by polynomials in t; no cancellation
 *          beyond 1.5 bits.
 * Everything is branch-free arithmetic, so the loop vectorises.
 */
static inline float lk_exp_neg_f(float x) /* exp(x) for x <= 0; 0 below -87 */
{
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    float xc = x < -87.0f ? -87.0f : x;
    /* round to nearest by the 1.5 * 2^23 trick: vectorises, unlike roundf */
    float n = (xc * log2e + 12582912.0f) - 12582912.0f;
    float r = (xc - n * ln2_hi) - n * ln2_lo;
    float p = 0.001394858080826547f;
    p = p * r + 0.008375128890087473f;
    p = p * r + 0.041666218274580294f;
    p = p * r + 0.16666415477240193f;
    p = p * r + 0.5000000107749295f;
    p = p * r + 1.0000000377274472f;
    p = p * r + 1.0f;
    union { float f; int32_t i; } u;
    u.i = ((int32_t)n + 127) << 23;
    float v = p * u.f;
    return x < -87.0f ? 0.0f : v;
}

static inline void lk_log_cosh_f(float r, float *value, float *slope)
{
    float a = __builtin_fabsf(r);
    float u = a * a;
    float p = -2.576626708817921e-05f;
    p = p * u + 0.00017672287748453456f;
    p = p * u - 0.0006801354878161779f;
    p = p * u + 0.002161790536487605f;
    p = p * u - 0.006739975716695161f;
    p = p * u + 0.022221494227097724f;
    p = p * u - 0.08333329964985497f;
    p = p * u + 0.49999999974257764f;
    float q = -0.0003548834131315703f;
    q = q * u + 0.0022876454888881535f;
    q = q * u - 0.007924946305362134f;
    q = q * u + 0.021469980647401386f;
    q = q * u - 0.05387273877817476f;
    q = q * u + 0.1333219053193246f;
    q = q * u - 0.33333280637479956f;
    q = q * u + 0.9999999959831504f;
    float t = lk_exp_neg_f(-2.0f * a);
    /* t <= e^-2: log1p(t) = t G(t) and (1 - t) / (1 + t) = K(t), fits of degree 5 and 6 with
       relative error < 3e-10 and < 2e-10; polynomials instead of two divisions, which cost more here */
    float gp = -0.11962356567137875f;
    gp = gp * t + 0.1933460927104138f;
    gp = gp * t - 0.24954997106030735f;
    gp = gp * t + 0.3333193690142632f;
    gp = gp * t - 0.49999984034972883f;
    gp = gp * t + 0.9999999997029922f;
    float kp = 1.2748843659807176f;
    kp = kp * t - 1.8773994448273452f;
    kp = kp * t + 1.9892189819096269f;
    kp = kp * t - 1.9995037795612023f;
    kp = kp * t + 1.9999890176840085f;
    kp = kp * t - 1.9999999083473416f;
    kp = kp * t + 0.999999999874692f;
    float far_v = (a - 0.693147180559945309f) + t * gp;
    float far_t = kp;
    int near = a < 1.0f;
    float v = near ? u * p : far_v;
    float th = near ? a * q : far_t;
    th = r < 0.0f ? -th : th;
    *value = v;
    *slope = r != r ? r : th;
}

/* ---------------------------------------------------------------- float64 log-cosh (libm) */
static inline void lk_log_cosh_d(double r, double *value, double *slope)
{
    double a = fabs(r);
    if (a < 1.0) {
        double sh = sinh(r);
        *value = 0.5 * log1p(sh * sh);
    } else {
        *value = a + log1p(exp(-2.0 * a)) - 0.693147180559945309;
    }
    *slope = tanh(r);
}

/* ---------------------------------------------------------------- per-element (value, slope) */
#define LK_SIMPLE_OPS(T, SUF)                                                             \
    static inline void lk_mse_##SUF(T r, T delta, T *v, T *d)                             \
    {                                                                                     \
        (void)delta;                                                                      \
        *v = r * r;                                                                       \
        *d = (T)2 * r;                                                                    \
    }                                                                                     \
    static inline void lk_l1_##SUF(T r, T delta, T *v, T *d)                              \
    {                                                                                     \
        (void)delta;                                                                      \
        *v = r < (T)0 ? -r : r;                                                           \
        /* branch-free (a nested ?: compiled to branches that random signs mispredict: 14x \
           slower than mse); a NaN residual compares false both ways: 0, as torch's sign */ \
        *d = (T)(r > (T)0) - (T)(r < (T)0);                                               \
    }                                                                                     \
    static inline void lk_huber_##SUF(T r, T delta, T *v, T *d)                           \
    {                                                                                     \
        T a = r < (T)0 ? -r : r;                                                          \
        T q = a < delta ? a : delta;                                                      \
        *v = q * (a - (T)0.5 * q);                                                        \
        *d = r > delta ? delta : (r < -delta ? -delta : r);                               \
    }

LK_SIMPLE_OPS(float, f)
LK_SIMPLE_OPS(double, d)

static inline void lk_log_cosh_op_f(float r, float delta, float *v, float *d)
{
    (void)delta;
    lk_log_cosh_f(r, v, d);
}
static inline void lk_log_cosh_op_d(double r, double delta, double *v, double *d)
{
    (void)delta;
    lk_log_cosh_d(r, v, d);
}

/* One block: g[i] = scale * l'(x[i] - y[i]); returns the block's sum of l. */
#define LK_BLOCK_FN(NAME, T, OP)                                                                          \
    static double NAME(const T *restrict x, const T *restrict y, T *restrict g, int64_t n, T scale, T delta) \
    {                                                                                                     \
        double acc = 0.0;                                                                                 \
        _Pragma("omp simd reduction(+ : acc)") for (int64_t i = 0; i < n; ++i)                            \
        {                                                                                                 \
            T v, d;                                                                                       \
            OP(x[i] - y[i], delta, &v, &d);                                                               \
            acc += (double)v;                                                                             \
            g[i] = scale * d;                                                                             \
        }                                                                                                 \
        return acc;                                                                                       \
    }

/* One block function per loss and dtype: PREFIX ## <loss>_<f|d>, from a per-element OP. */
#define LK_EACH_LOSS(BLOCK_FN, PREFIX)                          \
    BLOCK_FN(PREFIX##mse_f, float, lk_mse_f)                    \
    BLOCK_FN(PREFIX##l1_f, float, lk_l1_f)                      \
    BLOCK_FN(PREFIX##huber_f, float, lk_huber_f)                \
    BLOCK_FN(PREFIX##log_cosh_f, float, lk_log_cosh_op_f)       \
    BLOCK_FN(PREFIX##mse_d, double, lk_mse_d)                   \
    BLOCK_FN(PREFIX##l1_d, double, lk_l1_d)                     \
    BLOCK_FN(PREFIX##huber_d, double, lk_huber_d)               \
    BLOCK_FN(PREFIX##log_cosh_d, double, lk_log_cosh_op_d)

/* FN = the block function of loss code `kind` (NULL for an unknown code). */
#define LK_PICK(FN, PREFIX, SUF)                                \
    switch (kind) {                                             \
    case LK_MSE: FN = PREFIX##mse_##SUF; break;                 \
    case LK_L1: FN = PREFIX##l1_##SUF; break;                   \
    case LK_HUBER: FN = PREFIX##huber_##SUF; break;             \
    case LK_LOG_COSH: FN = PREFIX##log_cosh_##SUF; break;       \
    default: FN = NULL;                                         \
    }

LK_EACH_LOSS(LK_BLOCK_FN, lk_block_)

/* Chunks of blocks are handed out dynamically (a thread that other processes preempt does not
 * hold up the rest), and each block's sum lands in its own slot, added up in order afterwards: the result is
 * the same bits whatever the number of threads or the schedule. */
#define LK_ENTRY(NAME, T, SUF)                                                                              \
    double NAME(int kind, const T *x, const T *y, T *g, int64_t n, double scale, double delta, int nthreads) \
    {                                                                                                       \
        double (*fn)(const T *restrict, const T *restrict, T *restrict, int64_t, T, T);                   \
        LK_PICK(fn, lk_block_, SUF)                                                                         \
        if (fn == NULL)                                                                                     \
            return NAN;                                                                                     \
        int64_t nblocks = (n + LK_BLOCK - 1) / LK_BLOCK;                                                    \
        double stack_sums[64];                                                                              \
        double *sums = nblocks <= 64 ? stack_sums : (double *)malloc((size_t)nblocks * sizeof(double));    \
        if (sums == NULL) { /* no memory for the slots: one thread, in order */                          \
            double serial = 0.0;                                                                            \
            for (int64_t b = 0; b < nblocks; ++b) {                                                         \
                int64_t lo = b * LK_BLOCK, len = n - lo < LK_BLOCK ? n - lo : LK_BLOCK;                     \
                serial += fn(x + lo, y + lo, g + lo, len, (T)scale, (T)delta);                              \
            }                                                                                               \
            return serial;                                                                                  \
        }                                                                                                   \
        (void)nthreads;                                                                                     \
        _Pragma("omp parallel for num_threads(nthreads) schedule(dynamic, LK_CHUNK) if (nblocks > 4)")            \
        for (int64_t b = 0; b < nblocks; ++b) {                                                             \
            int64_t lo = b * LK_BLOCK, len = n - lo < LK_BLOCK ? n - lo : LK_BLOCK;                         \
            sums[b] = fn(x + lo, y + lo, g + lo, len, (T)scale, (T)delta);                                  \
        }                                                                                                   \
        double total = 0.0;                                                                                 \
        for (int64_t b = 0; b < nblocks; ++b)                                                               \
            total += sums[b];                                                                               \
        if (sums != stack_sums)                                                                             \
            free(sums);                                                                                     \
        return total;                                                                                       \
    }

LK_ENTRY(losskit_fused_f32, float, f)
LK_ENTRY(losskit_fused_f64, double, d)

/* ---------------------------------------------------------------- reduction "none"
 * For r = x - y: out[i] = vscale * l(r), g[i] = vscale * l'(r), in one pass; returns 1 if every l(r) is
 * finite (the value check riding on the loss at no extra pass: l * 0 is 0 exactly when l is finite),
 * else 0. The backward pass then costs nothing for a gradient of ones (g is handed over) and one
 * multiply otherwise. Blocks and threads as LK_ENTRY (the outputs are fresh buffers). */
#define LK_NONE_BLOCK_FN(NAME, T, OP)                                                                      \
    static int NAME(const T *restrict x, const T *restrict y, T *restrict out, T *restrict g, int64_t n,   \
                    T vscale, T delta)                                                                     \
    {                                                                                                      \
        T flag = (T)0;                                                                                     \
        _Pragma("omp simd reduction(+ : flag)") for (int64_t i = 0; i < n; ++i)                           \
        {                                                                                                  \
            T v, d;                                                                                        \
            OP(x[i] - y[i], delta, &v, &d);                                                                \
            flag += v * (T)0;                                                                              \
            out[i] = vscale * v;                                                                           \
            g[i] = vscale * d;                                                                             \
        }                                                                                                  \
        return flag == (T)0;                                                                               \
    }

LK_EACH_LOSS(LK_NONE_BLOCK_FN, lk_none_)

#define LK_NONE_ENTRY(NAME, T, SUF)                                                                       \
    int NAME(int kind, const T *x, const T *y, T *out, T *g, int64_t n, double vscale, double delta,      \
             int nthreads)                                                                                \
    {                                                                                                     \
        int (*fn)(const T *restrict, const T *restrict, T *restrict, T *restrict, int64_t, T, T);         \
        LK_PICK(fn, lk_none_, SUF)                                                                        \
        if (fn == NULL)                                                                                   \
            return -1;                                                                                    \
        int64_t nblocks = (n + LK_BLOCK - 1) / LK_BLOCK;                                                  \
        int ok = 1;                                                                                       \
        (void)nthreads;                                                                                   \
        _Pragma("omp parallel for num_threads(nthreads) schedule(dynamic, LK_CHUNK) reduction(& : ok) if (nblocks > 4)") \
        for (int64_t b = 0; b < nblocks; ++b) {                                                           \
            int64_t lo = b * LK_BLOCK, len = n - lo < LK_BLOCK ? n - lo : LK_BLOCK;                       \
            ok &= fn(x + lo, y + lo, out + lo, g + lo, len, (T)vscale, (T)delta);                         \
        }                                                                                                 \
        return ok;                                                                                        \
    }

LK_NONE_ENTRY(losskit_fused_none_f32, float, f)
LK_NONE_ENTRY(losskit_fused_none_f64, double, d)

/* ---------------------------------------------------------------- finiteness of a result
 * 1 if every x[i] is finite, else 0: x * 0 is 0 for a finite x and NaN for an inf or a NaN, so a
 * block's sum of x * 0 (vectorised) is 0 exactly when all its values are finite. No early exit
 * within a block: a clean tensor, the common case, is read in full anyway. The value checks of the
 * unreduced losses ride on this instead of a torch sum, which costs several dispatches per call;
 * below torch's grain size it runs on the calling thread (no OpenMP region at all). */
#define LK_TORCH_GRAIN 32768 /* at::internal::GRAIN_SIZE */
#define LK_FINITE(NAME, T, SUF)                                                                         \
    static int lk_finite_block_##SUF(const T *restrict x, int64_t n)                                    \
    {                                                                                                   \
        /* four independent sums over four quarters, so the vector adds do not wait on each other */  \
        T a0 = (T)0, a1 = (T)0, a2 = (T)0, a3 = (T)0;                                                   \
        int64_t m = n / 4;                                                                              \
        _Pragma("omp simd reduction(+ : a0, a1, a2, a3)") for (int64_t j = 0; j < m; ++j)              \
        {                                                                                               \
            a0 += x[j] * (T)0;                                                                          \
            a1 += x[m + j] * (T)0;                                                                      \
            a2 += x[2 * m + j] * (T)0;                                                                  \
            a3 += x[3 * m + j] * (T)0;                                                                  \
        }                                                                                               \
        for (int64_t i = 4 * m; i < n; ++i)                                                             \
            a0 += x[i] * (T)0;                                                                          \
        return a0 + a1 + a2 + a3 == (T)0;                                                               \
    }                                                                                                   \
    int NAME(const T *x, int64_t n, int nthreads)                                                       \
    {                                                                                                   \
        /* torch's parallel_for split: threads = min(nthreads, ceil(n / grain)), one contiguous range   \
           each, in thread order, so each thread reads what the same thread of torch's pool (one        \
           OpenMP runtime: the same libgomp.so.1) just wrote, from its own core's cache */               \
        int64_t want = (n + LK_TORCH_GRAIN - 1) / LK_TORCH_GRAIN;                                       \
        int nt = want < nthreads ? (int)want : nthreads;                                                \
        if (nt <= 1)                                                                                    \
            return lk_finite_block_##SUF(x, n);                                                         \
        int64_t chunk = (n + nt - 1) / nt;                                                              \
        int ok = 1;                                                                                     \
        _Pragma("omp parallel num_threads(nt) reduction(& : ok)")                                       \
        {                                                                                               \
            int64_t lo = (int64_t)omp_get_thread_num() * chunk;                                         \
            int64_t hi = lo + chunk < n ? lo + chunk : n;                                               \
            if (lo < hi)                                                                                \
                ok &= lk_finite_block_##SUF(x + lo, hi - lo);                                           \
        }                                                                                               \
        return ok;                                                                                      \
    }

LK_FINITE(losskit_all_finite_f32, float, f)
LK_FINITE(losskit_all_finite_f64, double, d)

int losskit_fused_abi(void) { return 3; }

/* ---------------------------------------------------------------- the same checks as a CPython module
 * Built a second time with -DLOSSKIT_PYTHON_EXT where Python's headers exist (_native.py): a
 * METH_FASTCALL call costs about a tenth of a ctypes call, which at 64 elements is most of the
 * check's cost. all_finite_f32(ptr, n, nthreads) -> bool, and _f64; ptr is Tensor.data_ptr(). */
#ifdef LOSSKIT_PYTHON_EXT
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define LK_PY_FINITE(PYNAME, CNAME, T)                                                                  \
    static PyObject *PYNAME(PyObject *self, PyObject *const *args, Py_ssize_t nargs)                    \
    {                                                                                                   \
        (void)self;                                                                                     \
        if (nargs != 3) {                                                                               \
            PyErr_SetString(PyExc_TypeError, #PYNAME "(ptr, n, nthreads) takes 3 arguments");           \
            return NULL;                                                                                \
        }                                                                                               \
        void *ptr = PyLong_AsVoidPtr(args[0]);                                                          \
        long long n = PyLong_AsLongLong(args[1]);                                                       \
        long nthreads = PyLong_AsLong(args[2]);                                                         \
        if (PyErr_Occurred())                                                                           \
            return NULL;                                                                                \
        if (n < 0 || (n > 0 && ptr == NULL)) {                                                          \
            PyErr_SetString(PyExc_ValueError, #PYNAME ": a null pointer or a negative length");         \
            return NULL;                                                                                \
        }                                                                                               \
        int ok;                                                                                         \
        if (n < LK_TORCH_GRAIN) {                                                                       \
            ok = CNAME((const T *)ptr, (int64_t)n, 1);                                                  \
        } else {                                                                                        \
            Py_BEGIN_ALLOW_THREADS ok = CNAME((const T *)ptr, (int64_t)n, (int)nthreads);               \
            Py_END_ALLOW_THREADS                                                                        \
        }                                                                                               \
        return PyBool_FromLong(ok);                                                                     \
    }

LK_PY_FINITE(lk_py_all_finite_f32, losskit_all_finite_f32, float)
LK_PY_FINITE(lk_py_all_finite_f64, losskit_all_finite_f64, double)

/* finite(t) -> bool: finite_on_host in one C call, the hot path of every riding check (a Python frame
 * and its attribute reads cost a few microseconds per call right after a backward, more than the pass).
 * It reads a plain contiguous float32/float64 CPU tensor through its own methods (dtype, is_cpu,
 * is_contiguous(), numel(), data_ptr(): no torch header needed), a 0-d result included, whose one value
 * it reads in place of .item(); anything else (a subclass, another dtype or device, a view, a tensor
 * without storage) goes to the Python reference given to setup(). */
static PyObject *lk_tensor_types[2], *lk_f32, *lk_f64, *lk_fallback, *lk_num_threads;
static PyObject *lk_s_dtype, *lk_s_is_cpu, *lk_s_is_contiguous, *lk_s_numel, *lk_s_data_ptr;

static PyObject *lk_py_setup(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError,
                        "setup(tensor, parameter, float32, float64, fallback, get_num_threads) takes 6 arguments");
        return NULL;
    }
    PyObject **slots[6] = {&lk_tensor_types[0], &lk_tensor_types[1], &lk_f32, &lk_f64, &lk_fallback, &lk_num_threads};
    for (int i = 0; i < 6; ++i) {
        Py_INCREF(args[i]);
        Py_XSETREF(*slots[i], args[i]);
    }
    const char *names[5] = {"dtype", "is_cpu", "is_contiguous", "numel", "data_ptr"};
    PyObject **interned[5] = {&lk_s_dtype, &lk_s_is_cpu, &lk_s_is_contiguous, &lk_s_numel, &lk_s_data_ptr};
    for (int i = 0; i < 5; ++i) {
        if (*interned[i] == NULL && (*interned[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    }
    Py_RETURN_NONE;
}

/* 1 if flag is True, 0 if it is anything else, -1 if it is NULL (an error is set); consumes the reference */
static int lk_truth(PyObject *flag)
{
    if (flag == NULL)
        return -1;
    int yes = flag == Py_True;
    Py_DECREF(flag);
    return yes;
}

static PyObject *lk_py_finite(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 1) {
        PyErr_SetString(PyExc_TypeError, "finite(t) takes 1 argument");
        return NULL;
    }
    if (lk_fallback == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "finite(t) before setup()");
        return NULL;
    }
    PyObject *t = args[0];
    PyTypeObject *type = Py_TYPE(t);
    if (type != (PyTypeObject *)lk_tensor_types[0] && type != (PyTypeObject *)lk_tensor_types[1])
        return PyObject_CallOneArg(lk_fallback, t);
    PyObject *dtype = PyObject_GetAttr(t, lk_s_dtype);
    if (dtype == NULL)
        goto fallback;
    int f64 = dtype == lk_f64;
    int f32 = dtype == lk_f32;
    Py_DECREF(dtype);
    if (!f32 && !f64)
        return PyObject_CallOneArg(lk_fallback, t);
    int cpu = lk_truth(PyObject_GetAttr(t, lk_s_is_cpu));
    int contiguous = cpu == 1 ? lk_truth(PyObject_CallMethodNoArgs(t, lk_s_is_contiguous)) : 0;
    if (cpu < 0 || contiguous < 0)
        goto fallback;
    if (!contiguous)
        return PyObject_CallOneArg(lk_fallback, t);
    PyObject *num = PyObject_CallMethodNoArgs(t, lk_s_numel);
    if (num == NULL)
        goto fallback;
    long long n = PyLong_AsLongLong(num);
    Py_DECREF(num);
    if (n < 0)
        goto fallback;
    PyObject *ptr_obj = PyObject_CallMethodNoArgs(t, lk_s_data_ptr);
    if (ptr_obj == NULL)
        goto fallback; /* no storage to read (a functorch wrapper) */
    void *ptr = PyLong_AsVoidPtr(ptr_obj);
    Py_DECREF(ptr_obj);
    if (PyErr_Occurred() || (n > 0 && ptr == NULL))
        goto fallback;
    int ok;
    if (n < LK_TORCH_GRAIN) {
        ok = f32 ? losskit_all_finite_f32((const float *)ptr, (int64_t)n, 1)
                 : losskit_all_finite_f64((const double *)ptr, (int64_t)n, 1);
    } else {
        PyObject *threads = PyObject_CallNoArgs(lk_num_threads);
        if (threads == NULL)
            return NULL;
        long nt = PyLong_AsLong(threads);
        Py_DECREF(threads);
        if (nt == -1 && PyErr_Occurred())
            return NULL;
        Py_BEGIN_ALLOW_THREADS ok = f32 ? losskit_all_finite_f32((const float *)ptr, (int64_t)n, (int)nt)
                                        : losskit_all_finite_f64((const double *)ptr, (int64_t)n, (int)nt);
        Py_END_ALLOW_THREADS
    }
    return PyBool_FromLong(ok);
fallback:
    PyErr_Clear();
    return PyObject_CallOneArg(lk_fallback, t);
}

static PyMethodDef lk_py_methods[] = {
    {"all_finite_f32", (PyCFunction)(void (*)(void))lk_py_all_finite_f32, METH_FASTCALL, "all finite (float32)"},
    {"all_finite_f64", (PyCFunction)(void (*)(void))lk_py_all_finite_f64, METH_FASTCALL, "all finite (float64)"},
    {"setup", (PyCFunction)(void (*)(void))lk_py_setup, METH_FASTCALL, "bind finite()'s types and fallback"},
    {"finite", (PyCFunction)(void (*)(void))lk_py_finite, METH_FASTCALL, "finite_on_host in one C call"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lk_py_module = {PyModuleDef_HEAD_INIT, "_lk_native", NULL, -1, lk_py_methods,
                                          NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__lk_native(void) { return PyModule_Create(&lk_py_module); }
#endif
