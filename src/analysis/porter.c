/* The Porter stemmer exactly as Lucene's PorterStemmer (Martin Porter's reference code, with
 * its departures from the 1980 paper: "bli" -> "ble", "logi" -> "log"). Elasticsearch's
 * `stemmer` filter with language "english", the `porter_stem` filter and the `english`
 * analyzer all use it; Snowball's "porter" differs on words like "sensibly" and "apology".
 * Works on code points (one per Java char for the BMP); non-ASCII letters are consonants. */
#include "analysis/analysis_int.h"

#include <string.h>

typedef struct {
    int32_t *b;
    int k, j, k0;
} porter;

static bool cons(const porter *z, int i)
{
    switch (z->b[i]) {
    case 'a':
    case 'e':
    case 'i':
    case 'o':
    case 'u':
        return false;
    case 'y':
        return i == z->k0 ? true : !cons(z, i - 1);
    default:
        return true;
    }
}

/* The number of vowel-consonant sequences between k0 and j. */
static int m(const porter *z)
{
    int n = 0, i = z->k0;
    for (;;) {
        if (i > z->j) return n;
        if (!cons(z, i)) break;
        i++;
    }
    i++;
    for (;;) {
        for (;;) {
            if (i > z->j) return n;
            if (cons(z, i)) break;
            i++;
        }
        i++;
        n++;
        for (;;) {
            if (i > z->j) return n;
            if (!cons(z, i)) break;
            i++;
        }
        i++;
    }
}

static bool vowelinstem(const porter *z)
{
    for (int i = z->k0; i <= z->j; i++)
        if (!cons(z, i)) return true;
    return false;
}

static bool doublec(const porter *z, int j)
{
    if (j < z->k0 + 1) return false;
    if (z->b[j] != z->b[j - 1]) return false;
    return cons(z, j);
}

static bool cvc(const porter *z, int i)
{
    if (i < z->k0 + 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2)) return false;
    int32_t ch = z->b[i];
    return !(ch == 'w' || ch == 'x' || ch == 'y');
}

static bool ends_n(porter *z, const char *s, int l)
{
    int o = z->k - l + 1;
    if (o < z->k0) return false;
    for (int i = 0; i < l; i++)
        if (z->b[o + i] != (unsigned char)s[i]) return false;
    z->j = z->k - l;
    return true;
}

static void setto_n(porter *z, const char *s, int l)
{
    int o = z->j + 1;
    for (int i = 0; i < l; i++)
        z->b[o + i] = (unsigned char)s[i];
    z->k = z->j + l;
}

/* suffix literals: their lengths are compile-time constants */
#define ends(z, s) ends_n(z, s, (int)sizeof(s) - 1)
#define setto(z, s) setto_n(z, s, (int)sizeof(s) - 1)
#define r(z, s)                                                                                    \
    do {                                                                                           \
        if (m(z) > 0) setto(z, s);                                                                 \
    } while (0)

/* plurals and -ed / -ing */
static void step1(porter *z)
{
    if (z->b[z->k] == 's') {
        if (ends(z, "sses"))
            z->k -= 2;
        else if (ends(z, "ies"))
            setto(z, "i");
        else if (z->b[z->k - 1] != 's')
            z->k--;
    }
    if (ends(z, "eed")) {
        if (m(z) > 0) z->k--;
    } else if ((ends(z, "ed") || ends(z, "ing")) && vowelinstem(z)) {
        z->k = z->j;
        if (ends(z, "at")) {
            setto(z, "ate");
        } else if (ends(z, "bl")) {
            setto(z, "ble");
        } else if (ends(z, "iz")) {
            setto(z, "ize");
        } else if (doublec(z, z->k)) {
            int32_t ch = z->b[z->k--];
            if (ch == 'l' || ch == 's' || ch == 'z') z->k++;
        } else if (m(z) == 1 && cvc(z, z->k)) {
            setto(z, "e");
        }
    }
}

/* terminal y to i when there is another vowel in the stem */
static void step2(porter *z)
{
    if (ends(z, "y") && vowelinstem(z)) z->b[z->k] = 'i';
}

/* double suffixes to single ones */
static void step3(porter *z)
{
    if (z->k == z->k0) return;
    switch (z->b[z->k - 1]) {
    case 'a':
        if (ends(z, "ational")) {
            r(z, "ate");
            break;
        }
        if (ends(z, "tional")) {
            r(z, "tion");
            break;
        }
        break;
    case 'c':
        if (ends(z, "enci")) {
            r(z, "ence");
            break;
        }
        if (ends(z, "anci")) {
            r(z, "ance");
            break;
        }
        break;
    case 'e':
        if (ends(z, "izer")) {
            r(z, "ize");
            break;
        }
        break;
    case 'l':
        if (ends(z, "bli")) {
            r(z, "ble");
            break;
        }
        if (ends(z, "alli")) {
            r(z, "al");
            break;
        }
        if (ends(z, "entli")) {
            r(z, "ent");
            break;
        }
        if (ends(z, "eli")) {
            r(z, "e");
            break;
        }
        if (ends(z, "ousli")) {
            r(z, "ous");
            break;
        }
        break;
    case 'o':
        if (ends(z, "ization")) {
            r(z, "ize");
            break;
        }
        if (ends(z, "ation")) {
            r(z, "ate");
            break;
        }
        if (ends(z, "ator")) {
            r(z, "ate");
            break;
        }
        break;
    case 's':
        if (ends(z, "alism")) {
            r(z, "al");
            break;
        }
        if (ends(z, "iveness")) {
            r(z, "ive");
            break;
        }
        if (ends(z, "fulness")) {
            r(z, "ful");
            break;
        }
        if (ends(z, "ousness")) {
            r(z, "ous");
            break;
        }
        break;
    case 't':
        if (ends(z, "aliti")) {
            r(z, "al");
            break;
        }
        if (ends(z, "iviti")) {
            r(z, "ive");
            break;
        }
        if (ends(z, "biliti")) {
            r(z, "ble");
            break;
        }
        break;
    case 'g':
        if (ends(z, "logi")) {
            r(z, "log");
            break;
        }
        break;
    default:
        break;
    }
}

/* -ic-, -full, -ness */
static void step4(porter *z)
{
    switch (z->b[z->k]) {
    case 'e':
        if (ends(z, "icate")) {
            r(z, "ic");
            break;
        }
        if (ends(z, "ative")) {
            r(z, "");
            break;
        }
        if (ends(z, "alize")) {
            r(z, "al");
            break;
        }
        break;
    case 'i':
        if (ends(z, "iciti")) {
            r(z, "ic");
            break;
        }
        break;
    case 'l':
        if (ends(z, "ical")) {
            r(z, "ic");
            break;
        }
        if (ends(z, "ful")) {
            r(z, "");
            break;
        }
        break;
    case 's':
        if (ends(z, "ness")) {
            r(z, "");
            break;
        }
        break;
    default:
        break;
    }
}

/* -ant, -ence etc. in context <c>vcvc<v> */
static void step5(porter *z)
{
    if (z->k == z->k0) return;
    switch (z->b[z->k - 1]) {
    case 'a':
        if (ends(z, "al")) break;
        return;
    case 'c':
        if (ends(z, "ance")) break;
        if (ends(z, "ence")) break;
        return;
    case 'e':
        if (ends(z, "er")) break;
        return;
    case 'i':
        if (ends(z, "ic")) break;
        return;
    case 'l':
        if (ends(z, "able")) break;
        if (ends(z, "ible")) break;
        return;
    case 'n':
        if (ends(z, "ant")) break;
        if (ends(z, "ement")) break;
        if (ends(z, "ment")) break;
        if (ends(z, "ent")) break;
        return;
    case 'o':
        if (ends(z, "ion") && z->j >= 0 && (z->b[z->j] == 's' || z->b[z->j] == 't')) break;
        if (ends(z, "ou")) break;
        return;
    case 's':
        if (ends(z, "ism")) break;
        return;
    case 't':
        if (ends(z, "ate")) break;
        if (ends(z, "iti")) break;
        return;
    case 'u':
        if (ends(z, "ous")) break;
        return;
    case 'v':
        if (ends(z, "ive")) break;
        return;
    case 'z':
        if (ends(z, "ize")) break;
        return;
    default:
        return;
    }
    if (m(z) > 1) z->k = z->j;
}

/* a final -e, and -ll to -l, when m() > 1 */
static void step6(porter *z)
{
    z->j = z->k;
    if (z->b[z->k] == 'e') {
        int a = m(z);
        if (a > 1 || (a == 1 && !cvc(z, z->k - 1))) z->k--;
    }
    if (z->b[z->k] == 'l' && doublec(z, z->k) && m(z) > 1) z->k--;
}

size_t kiln__porter_stem(int32_t *b, size_t n)
{
    if (n > (size_t)INT32_MAX / 2) return n;
    porter z = {.b = b, .k = (int)n - 1, .j = 0, .k0 = 0};
    if (z.k > z.k0 + 1) {
        step1(&z);
        step2(&z);
        step3(&z);
        step4(&z);
        step5(&z);
        step6(&z);
    }
    return (size_t)(z.k + 1);
}
