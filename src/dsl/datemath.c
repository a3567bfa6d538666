/* Date math for range queries, as Elasticsearch's JavaDateMathParser: an anchor ("now" or
 * "<date>||"), then operations (+1d, -2h, /M). Dates without an anchor are parsed with the
 * format (default strict_date_optional_time||epoch_millis). When round_up is set (gt, lte),
 * rounding goes to the last millisecond of the unit, and a date missing its smaller fields
 * ("2024-01") is read as the end of what it names, so lte "2024-01-01" includes that day. UTC. */
#include "dsl/query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kiln__tm {
    int64_t y;
    int mo, d, h, mi, s, ms;
    int64_t tz_ms; /* offset east of UTC */
} kiln__tm;

typedef enum { KILN__U_Y, KILN__U_MO, KILN__U_W, KILN__U_D, KILN__U_H, KILN__U_MI, KILN__U_S, KILN__U_MS } kiln__unit;

static int64_t kiln__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void kiln__civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t kiln__tm_to_ms(const kiln__tm *t)
{
    int64_t days = kiln__days_from_civil(t->y, t->mo, t->d);
    return ((days * 24 + t->h) * 60 + t->mi) * 60000LL + t->s * 1000LL + t->ms - t->tz_ms;
}

static void kiln__ms_to_tm(int64_t ms, kiln__tm *t)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    kiln__civil_from_days(days, &t->y, &t->mo, &t->d);
    t->h = (int)(rem / 3600000);
    t->mi = (int)(rem / 60000 % 60);
    t->s = (int)(rem / 1000 % 60);
    t->ms = (int)(rem % 1000);
    t->tz_ms = 0;
}

static int kiln__mdays(int64_t y, int m)
{
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return md[m - 1];
}

/* End (last ms) of the unit containing ms when round_up, else its start. */
static int64_t kiln__round(int64_t ms, kiln__unit u, int up)
{
    kiln__tm t;
    kiln__ms_to_tm(ms, &t);
    switch (u) {
    case KILN__U_Y:
        t.mo = 1;
        /* fallthrough */
    case KILN__U_MO:
        t.d = 1;
        /* fallthrough */
    case KILN__U_D:
        t.h = 0;
        /* fallthrough */
    case KILN__U_H:
        t.mi = 0;
        /* fallthrough */
    case KILN__U_MI:
        t.s = 0;
        /* fallthrough */
    case KILN__U_S:
        t.ms = 0;
        /* fallthrough */
    case KILN__U_MS:
        break;
    case KILN__U_W: {
        int64_t days = kiln__days_from_civil(t.y, t.mo, t.d);
        int64_t dow = ((days % 7) + 7 + 3) % 7; /* 0 = Monday (1970-01-01 was a Thursday) */
        int64_t start = (days - dow) * 86400000LL;
        return up ? start + 7 * 86400000LL - 1 : start;
    }
    }
    int64_t start = kiln__tm_to_ms(&t);
    if (!up) return start;
    switch (u) {
    case KILN__U_Y:
        t.y++;
        return kiln__tm_to_ms(&t) - 1;
    case KILN__U_MO:
        if (++t.mo > 12) {
            t.mo = 1;
            t.y++;
        }
        return kiln__tm_to_ms(&t) - 1;
    case KILN__U_D:
        return start + 86400000LL - 1;
    case KILN__U_H:
        return start + 3600000LL - 1;
    case KILN__U_MI:
        return start + 60000LL - 1;
    case KILN__U_S:
        return start + 999;
    default:
        return start;
    }
}

static int64_t kiln__add(int64_t ms, kiln__unit u, int64_t n)
{
    switch (u) {
    case KILN__U_Y:
    case KILN__U_MO: {
        kiln__tm t;
        kiln__ms_to_tm(ms, &t);
        int64_t months = t.y * 12 + (t.mo - 1) + (u == KILN__U_Y ? n * 12 : n);
        t.y = months >= 0 ? months / 12 : -((-months + 11) / 12);
        t.mo = (int)(months - t.y * 12) + 1;
        int md = kiln__mdays(t.y, t.mo);
        if (t.d > md) t.d = md;
        return kiln__tm_to_ms(&t);
    }
    case KILN__U_W:
        return ms + n * 7 * 86400000LL;
    case KILN__U_D:
        return ms + n * 86400000LL;
    case KILN__U_H:
        return ms + n * 3600000LL;
    case KILN__U_MI:
        return ms + n * 60000LL;
    case KILN__U_S:
        return ms + n * 1000LL;
    default:
        return ms + n;
    }
}

static int kiln__unit_of(char c, kiln__unit *u)
{
    switch (c) {
    case 'y': *u = KILN__U_Y; return 0;
    case 'M': *u = KILN__U_MO; return 0;
    case 'w': *u = KILN__U_W; return 0;
    case 'd': *u = KILN__U_D; return 0;
    case 'h':
    case 'H': *u = KILN__U_H; return 0;
    case 'm': *u = KILN__U_MI; return 0;
    case 's': *u = KILN__U_S; return 0;
    default: return -1;
    }
}

static int kiln__digits(const char **p, const char *end, int n, int64_t *out)
{
    int64_t v = 0;
    int k = 0;
    while (*p < end && k < n && isdigit((unsigned char)**p)) {
        v = v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    *out = v;
    return k;
}

/* ISO 8601 (strict_date_optional_time): yyyy[-MM[-dd[Thh[:mm[:ss[.SSS]]]]]][Z|±hh[:mm]]. */
static int kiln__parse_iso(const char *s, size_t len, int up, int64_t *out)
{
    const char *p = s, *end = s + len;
    kiln__tm t = {0, 1, 1, 0, 0, 0, 0, 0};
    kiln__unit prec = KILN__U_Y;
    int64_t v;
    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (kiln__digits(&p, end, 9, &v) < 4) return -1;
    t.y = neg ? -v : v;
    if (p < end && *p == '-') {
        p++;
        if (kiln__digits(&p, end, 2, &v) != 2 || v < 1 || v > 12) return -1;
        t.mo = (int)v;
        prec = KILN__U_MO;
        if (p < end && *p == '-') {
            p++;
            if (kiln__digits(&p, end, 2, &v) != 2 || v < 1 || v > kiln__mdays(t.y, t.mo))
                return -1;
            t.d = (int)v;
            prec = KILN__U_D;
            if (p < end && (*p == 'T' || *p == ' ')) {
                p++;
                if (kiln__digits(&p, end, 2, &v) != 2 || v > 23) return -1;
                t.h = (int)v;
                prec = KILN__U_H;
                if (p < end && *p == ':') {
                    p++;
                    if (kiln__digits(&p, end, 2, &v) != 2 || v > 59) return -1;
                    t.mi = (int)v;
                    prec = KILN__U_MI;
                    if (p < end && *p == ':') {
                        p++;
                        if (kiln__digits(&p, end, 2, &v) != 2 || v > 59) return -1;
                        t.s = (int)v;
                        prec = KILN__U_S;
                        if (p < end && (*p == '.' || *p == ',')) {
                            p++;
                            int64_t frac;
                            int k = kiln__digits(&p, end, 9, &frac);
                            if (!k) return -1;
                            while (k < 3) frac *= 10, k++;
                            while (k > 3) frac /= 10, k--;
                            t.ms = (int)frac;
                            prec = KILN__U_MS;
                        }
                    }
                }
                if (p < end && *p == 'Z')
                    p++;
                else if (p < end && (*p == '+' || *p == '-')) {
                    int sign = *p++ == '-' ? -1 : 1;
                    int64_t hh, mm = 0;
                    if (kiln__digits(&p, end, 2, &hh) != 2) return -1;
                    if (p < end && *p == ':') p++;
                    kiln__digits(&p, end, 2, &mm);
                    t.tz_ms = sign * (hh * 3600000 + mm * 60000);
                }
            }
        }
    }
    if (p != end) return -1;
    int64_t ms = kiln__tm_to_ms(&t);
    *out = up && prec != KILN__U_MS ? kiln__round(ms, prec, 1) : ms;
    return 0;
}

/* Java-style pattern: yyyy MM dd HH mm ss SSS, quoted literals, other characters literal. */
static int kiln__parse_pattern(const char *s, size_t len, const char *pat, size_t plen, int up,
                               int64_t *out)
{
    const char *p = s, *end = s + len;
    kiln__tm t = {1970, 1, 1, 0, 0, 0, 0, 0};
    kiln__unit prec = KILN__U_Y;
    for (size_t i = 0; i < plen;) {
        char c = pat[i];
        size_t run = 1;
        while (i + run < plen && pat[i + run] == c) run++;
        int64_t v;
        if (c == '\'') {
            i++;
            while (i < plen && pat[i] != '\'') {
                if (p >= end || *p != pat[i]) return -1;
                p++, i++;
            }
            i++;
            continue;
        }
        if (strchr("yuMdHmsS", c)) {
            int maxd = c == 'y' || c == 'u' ? 9 : c == 'S' ? 9 : 2;
            int k = kiln__digits(&p, end, run > 2 && c != 'y' && c != 'u' && c != 'S' ? (int)run : maxd, &v);
            if (!k) return -1;
            switch (c) {
            case 'y':
            case 'u': t.y = v; break;
            case 'M': t.mo = (int)v; if (prec < KILN__U_MO) prec = KILN__U_MO; break;
            case 'd': t.d = (int)v; if (prec < KILN__U_D) prec = KILN__U_D; break;
            case 'H': t.h = (int)v; if (prec < KILN__U_H) prec = KILN__U_H; break;
            case 'm': t.mi = (int)v; if (prec < KILN__U_MI) prec = KILN__U_MI; break;
            case 's': t.s = (int)v; if (prec < KILN__U_S) prec = KILN__U_S; break;
            case 'S':
                while (k < 3) v *= 10, k++;
                while (k > 3) v /= 10, k--;
                t.ms = (int)v;
                prec = KILN__U_MS;
                break;
            }
            i += run;
            continue;
        }
        for (size_t k = 0; k < run; k++) {
            if (p >= end || *p != c) return -1;
            p++;
        }
        i += run;
    }
    if (p != end || t.mo < 1 || t.mo > 12 || t.d < 1 || t.d > kiln__mdays(t.y, t.mo)) return -1;
    int64_t ms = kiln__tm_to_ms(&t);
    *out = up && prec != KILN__U_MS ? kiln__round(ms, prec, 1) : ms;
    return 0;
}

static int kiln__is_int(const char *s, size_t len)
{
    size_t i = s[0] == '-' ? 1 : 0;
    if (i >= len) return 0;
    for (; i < len; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int kiln__parse_one(const char *s, size_t len, const char *fmt, size_t flen, int up,
                           int64_t *out)
{
#define KILN__IS(name) (flen == strlen(name) && !memcmp(fmt, name, flen))
    if (KILN__IS("epoch_millis") || KILN__IS("epoch_second")) {
        if (!kiln__is_int(s, len)) return -1;
        *out = strtoll(s, NULL, 10) * (KILN__IS("epoch_second") ? 1000 : 1);
        return 0;
    }
    if (KILN__IS("strict_date_optional_time") || KILN__IS("date_optional_time") ||
        KILN__IS("strict_date_optional_time_nanos") || KILN__IS("date_time") ||
        KILN__IS("strict_date_time") || KILN__IS("date") || KILN__IS("strict_date") ||
        KILN__IS("year_month_day") || KILN__IS("strict_year_month_day"))
        return kiln__parse_iso(s, len, up, out);
    return kiln__parse_pattern(s, len, fmt, flen, up, out);
#undef KILN__IS
}

static int kiln__parse_date(const char *s, size_t len, const char *format, int up, int64_t *out)
{
    const char *fmt = format ? format : "strict_date_optional_time||epoch_millis";
    for (;;) {
        const char *bar = strstr(fmt, "||");
        size_t flen = bar ? (size_t)(bar - fmt) : strlen(fmt);
        if (!kiln__parse_one(s, len, fmt, flen, up, out)) return 0;
        if (!bar) return -1;
        fmt = bar + 2;
    }
}

int kiln_datemath_parse(const char *s, const char *format, int64_t now_ms, int round_up,
                        int64_t *out, kiln_error *err)
{
    const char *math;
    int64_t ms;
    if (!strncmp(s, "now", 3)) {
        ms = now_ms;
        math = s + 3;
    } else {
        const char *bars = strstr(s, "||");
        size_t dlen = bars ? (size_t)(bars - s) : strlen(s);
        /* with math after the anchor, the anchor is not rounded up by itself */
        if (kiln__parse_date(s, dlen, format, bars && bars[2] ? 0 : round_up, &ms))
            return kiln_fail(err, KILN_E_PARSE,
                             "failed to parse date field [%s] with format [%s]", s,
                             format ? format : "strict_date_optional_time||epoch_millis");
        if (!bars) {
            *out = ms;
            return 0;
        }
        math = bars + 2;
    }
    const char *p = math;
    while (*p) {
        char op = *p++;
        if (op == '/') {
            kiln__unit u;
            if (kiln__unit_of(*p, &u)) goto bad;
            p++;
            ms = kiln__round(ms, u, round_up);
            continue;
        }
        if (op != '+' && op != '-') goto bad;
        int64_t n = 1;
        if (isdigit((unsigned char)*p)) {
            char *end;
            n = strtoll(p, &end, 10);
            p = end;
        }
        kiln__unit u;
        if (kiln__unit_of(*p, &u)) goto bad;
        p++;
        ms = kiln__add(ms, u, op == '-' ? -n : n);
    }
    *out = ms;
    return 0;
bad:
    return kiln_fail(err, KILN_E_PARSE, "operator not supported for date math [%s]", math);
}
