/* The search tests' mappings, from JSON text. */
#ifndef KILN_TEST_MAPPING_H
#define KILN_TEST_MAPPING_H

#include "../test.h"
#include "index/mapping.h"

#include <jansson.h>

static inline kiln_mapping *mapping(const char *js)
{
    json_t *j = json_loads(js, 0, NULL);
    kiln_error err;
    kiln_mapping *m = kiln_mapping_new(j, &err);
    json_decref(j);
    if (!m) KT_FAIL("bad mapping %s", js);
    return m;
}

#endif
