/* Date parsing for the default date format, strict_date_optional_time||epoch_millis. */
#include "index/mapping.h"

#include <ctype.h>

static int64_t kiln__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int kiln__digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || !isdigit((unsigned char)s[*i])) return -1;
        v = v * 10 + (s[(*i)++] - '0');
    }
    *out = v;
    return 0;
}

static int kiln__days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

int kiln_date_parse(const char *s, size_t len, int64_t *millis)
{
    size_t i = 0;
    int year, month = 1, day = 1, hh = 0, mm = 0, ss = 0, ms = 0;
    /* A bare integer is epoch_millis. */
    int all_digits = len > 0;
    for (size_t k = (len && s[0] == '-'); k < len; k++)
        if (!isdigit((unsigned char)s[k])) all_digits = 0;
    if (all_digits && len > (size_t)(s[0] == '-') && len <= 19) {
        int64_t v = 0;
        for (size_t k = (s[0] == '-'); k < len; k++) v = v * 10 + (s[k] - '0');
        *millis = s[0] == '-' ? -v : v;
        return 0;
    }
    if (kiln__digits(s, len, &i, 4, &year)) return -1;
    if (i < len && s[i] == '-') {
        i++;
        if (kiln__digits(s, len, &i, 2, &month) || month < 1 || month > 12) return -1;
        if (i < len && s[i] == '-') {
            i++;
            if (kiln__digits(s, len, &i, 2, &day) || day < 1 ||
                day > kiln__days_in_month(year, month))
                return -1;
        }
    }
    int64_t offset_min = 0;
    if (i < len && s[i] == 'T') {
        i++;
        if (kiln__digits(s, len, &i, 2, &hh) || hh > 23) return -1;
        if (i < len && s[i] == ':') {
            i++;
            if (kiln__digits(s, len, &i, 2, &mm) || mm > 59) return -1;
            if (i < len && s[i] == ':') {
                i++;
                if (kiln__digits(s, len, &i, 2, &ss) || ss > 59) return -1;
                if (i < len && (s[i] == '.' || s[i] == ',')) {
                    i++;
                    int nd = 0;
                    while (i < len && isdigit((unsigned char)s[i])) {
                        if (nd < 3) ms = ms * 10 + (s[i] - '0');
                        nd++, i++;
                    }
                    if (nd == 0 || nd > 9) return -1;
                    for (; nd < 3; nd++) ms *= 10;
                }
            }
        }
        if (i < len && s[i] == 'Z') {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
            if (kiln__digits(s, len, &i, 2, &oh) || oh > 18) return -1;
            if (i < len && s[i] == ':') i++;
            if (i < len && kiln__digits(s, len, &i, 2, &om)) return -1;
            offset_min = sign * (oh * 60 + om);
        }
    }
    if (i != len) return -1;
    int64_t days = kiln__days_from_civil(year, (unsigned)month, (unsigned)day);
    *millis = ((days * 24 + hh) * 60 + mm) * 60000 + (int64_t)ss * 1000 + ms - offset_min * 60000;
    return 0;
}
