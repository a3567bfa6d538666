/* Levenshtein distance of two short strings: compiled to wasm32 for the UDF
 * benchmark and natively for the baseline (same source). */
#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name) __attribute__((noinline))
#endif

static int lev(const char *a, int la, const char *b, int lb)
{
    int prev[32], cur[32];
    for (int j = 0; j <= lb; j++)
        prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int d = prev[j] + 1, ins = cur[j - 1] + 1, sub = prev[j - 1] + cost;
            d = ins < d ? ins : d;
            d = sub < d ? sub : d;
            cur[j] = d;
        }
        for (int j = 0; j <= lb; j++)
            prev[j] = cur[j];
    }
    return prev[lb];
}

int lev_bench(int i);

static char sa[] = "kitten_sitting";
static char sb[] = "sitting_kitten";

/* i perturbs the input so nothing is folded at compile time. */
EXPORT("lev_bench") int lev_bench(int i)
{
    sa[0] = (char)('a' + (i & 7));
    return lev(sa, 9, sb, 9);
}
