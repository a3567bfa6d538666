#include "index/mapping.h"
#include "core/buf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kiln__type_names[] = {
    [KILN_FT_OBJECT] = "object",   [KILN_FT_TEXT] = "text",       [KILN_FT_KEYWORD] = "keyword",
    [KILN_FT_LONG] = "long",       [KILN_FT_INTEGER] = "integer", [KILN_FT_SHORT] = "short",
    [KILN_FT_BYTE] = "byte",       [KILN_FT_DOUBLE] = "double",   [KILN_FT_FLOAT] = "float",
    [KILN_FT_BOOLEAN] = "boolean", [KILN_FT_DATE] = "date",
};

const char *kiln_field_type_name(kiln_field_type t)
{
    return kiln__type_names[t];
}

int kiln_field_type_parse(const char *name, kiln_field_type *out)
{
    for (size_t i = 0; i < sizeof kiln__type_names / sizeof *kiln__type_names; i++)
        if (strcmp(name, kiln__type_names[i]) == 0) return (*out = (kiln_field_type)i), 0;
    return -1;
}

int kiln_field_type_is_numeric(kiln_field_type t)
{
    return t >= KILN_FT_LONG && t <= KILN_FT_FLOAT;
}

/* ---- building ---------------------------------------------------------------------------- */

typedef struct {
    kiln_field *v;
    size_t n, cap;
} kiln__fields;

static int kiln__parse_dynamic(json_t *v, kiln_dynamic inherit, kiln_dynamic *out, kiln_error *err)
{
    *out = inherit;
    if (!v) return 0;
    if (json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0))
        *out = KILN_DYNAMIC_TRUE;
    else if (json_is_false(v) || (json_is_string(v) && !strcmp(json_string_value(v), "false")))
        *out = KILN_DYNAMIC_FALSE;
    else if (json_is_string(v) && strcmp(json_string_value(v), "strict") == 0)
        *out = KILN_DYNAMIC_STRICT;
    else
        return kiln_fail(err, KILN_E_MAPPER_PARSING,
                         "Could not convert [dynamic] to boolean or 'strict'");
    return 0;
}

static int kiln__add_props(kiln__fields *fs, kiln_buf *path, json_t *props, kiln_dynamic dyn,
                           int multi, kiln_error *err);

/* 1 for true or "true" (Elasticsearch accepts booleans as strings too). */
static int kiln__is_true(json_t *v)
{
    return json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"));
}

/* "store": a boolean, or "true"/"false". */
static int kiln__parse_store(json_t *v, int *out, kiln_error *err)
{
    *out = kiln__is_true(v);
    const char *sv = json_is_string(v) ? json_string_value(v) : NULL;
    if (!v || json_is_boolean(v) || *out || (sv && !strcmp(sv, "false"))) return 0;
    return kiln_fail(err, KILN_E_MAPPER_PARSING,
                     "Failed to parse value [%s] as only [true] or [false] are allowed.",
                     sv ? sv : "a non-boolean");
}

static int kiln__add_field(kiln__fields *fs, kiln_buf *path, json_t *def, kiln_dynamic dyn,
                           int multi, kiln_error *err)
{
    if (!json_is_object(def))
        return kiln_fail(err, KILN_E_MAPPER_PARSING, "Expected map for property [fields] on field [%s] but got a class java.lang.String", path->data);
    json_t *jt = json_object_get(def, "type");
    kiln_field_type type = KILN_FT_OBJECT;
    if (jt) {
        if (!json_is_string(jt))
            return kiln_fail(err, KILN_E_MAPPER_PARSING, "type of field [%s] must be a string",
                             path->data);
        if (strcmp(json_string_value(jt), "nested") == 0)
            return kiln_fail(err, KILN_E_MAPPER_PARSING,
                             "field [%s]: type [nested] is not supported yet; use [object]",
                             path->data);
        const char *tn = json_string_value(jt);
        if (!strcmp(tn, "half_float"))
            type = KILN_FT_FLOAT;
        else if (!strcmp(tn, "scaled_float"))
            type = KILN_FT_DOUBLE;
        else if (kiln_field_type_parse(tn, &type))
            return kiln_fail(err, KILN_E_MAPPER_PARSING,
                             "No handler for type [%s] declared on field [%s]", tn, path->data);
    } else if (!json_object_get(def, "properties") && multi) {
        return kiln_fail(err, KILN_E_MAPPER_PARSING, "No type specified for field [%s]",
                         path->data);
    }
    if (fs->n == fs->cap) {
        fs->cap = fs->cap ? fs->cap * 2 : 16;
        fs->v = kiln_xrealloc(fs->v, fs->cap * sizeof *fs->v);
    }
    kiln_field *f = &fs->v[fs->n++];
    memset(f, 0, sizeof *f);
    f->path = kiln_xstrdup(path->data);
    f->type = type;
    f->def = def;
    f->is_multi_field = multi;
    if (jt && !strcmp(json_string_value(jt), "half_float")) f->half_float = 1;
    if (jt && !strcmp(json_string_value(jt), "scaled_float")) {
        json_t *sf = json_object_get(def, "scaling_factor");
        if (!sf) {
            fs->n--;
            free((char *)f->path);
            return kiln_fail(err, KILN_E_MAPPER_PARSING, "Field [scaling_factor] is required");
        }
        if (!json_is_number(sf) || !(json_number_value(sf) > 0) || !isfinite(json_number_value(sf))) {
            fs->n--;
            free((char *)f->path);
            return kiln_fail(err, KILN_E_MAPPER_PARSING,
                             "[scaling_factor] must be a positive number, got [%s]",
                             json_is_string(sf) ? json_string_value(sf) : "a non-number");
        }
        f->scaling_factor = json_number_value(sf);
    }
    f->index = !json_is_false(json_object_get(def, "index"));
    f->doc_values = !json_is_false(json_object_get(def, "doc_values"));
    if (kiln__parse_store(json_object_get(def, "store"), &f->store, err)) return -1;
    json_t *a = json_object_get(def, "analyzer");
    f->analyzer = json_is_string(a) ? json_string_value(a) : "standard";
    json_t *sa = json_object_get(def, "search_analyzer");
    f->search_analyzer = json_is_string(sa) ? json_string_value(sa) : f->analyzer;
    json_t *ia = json_object_get(def, "ignore_above");
    f->ignore_above = json_is_integer(ia) ? json_integer_value(ia) : 0;
    if (kiln__parse_dynamic(json_object_get(def, "dynamic"), dyn, &f->dynamic, err)) return -1;
    kiln_dynamic child_dyn = f->dynamic;

    json_t *props = json_object_get(def, "properties");
    if (props) {
        if (type != KILN_FT_OBJECT)
            return kiln_fail(err, KILN_E_MAPPER_PARSING,
                             "field [%s] of type [%s] cannot have [properties]", path->data,
                             kiln_field_type_name(type));
        if (kiln__add_props(fs, path, props, child_dyn, 0, err)) return -1;
    }
    json_t *sub = json_object_get(def, "fields");
    if (sub) {
        if (type == KILN_FT_OBJECT)
            return kiln_fail(err, KILN_E_MAPPER_PARSING, "object field [%s] cannot have [fields]",
                             path->data);
        if (kiln__add_props(fs, path, sub, child_dyn, 1, err)) return -1;
    }
    return 0;
}

static int kiln__add_props(kiln__fields *fs, kiln_buf *path, json_t *props, kiln_dynamic dyn,
                           int multi, kiln_error *err)
{
    if (!json_is_object(props))
        return kiln_fail(err, KILN_E_MAPPER_PARSING, "[properties] of [%s] must be an object",
                         path->len ? path->data : "_doc");
    const char *key;
    json_t *def;
    size_t base = path->len;
    json_object_foreach(props, key, def)
    {
        if (!key[0])
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "field name cannot be an empty string");
        if (strlen(key) > 255)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT, "field name [%.40s...] is too long", key);
        if (base) kiln_buf_putc(path, '.');
        kiln_buf_puts(path, key);
        int rc = kiln__add_field(fs, path, def, dyn, multi, err);
        path->len = base;
        path->data[base] = 0;
        if (rc) return rc;
    }
    return 0;
}

static int kiln__field_cmp(const void *a, const void *b)
{
    return strcmp(((const kiln_field *)a)->path, ((const kiln_field *)b)->path);
}

static void kiln__free_fields(kiln_field *v, size_t n)
{
    for (size_t i = 0; i < n; i++) free((char *)v[i].path);
    free(v);
}

/* Takes ownership of json (a {"properties": ...} object). */
static kiln_mapping *kiln__build(json_t *json, kiln_error *err)
{
    static const char *const allowed[] = {"properties", "dynamic", "_source", "_routing",
                                          "date_detection", "numeric_detection", "_meta",
                                          "dynamic_templates", "_field_names", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(json, key, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i]; i++) ok |= strcmp(key, allowed[i]) == 0;
        if (!ok) {
            kiln_fail(err, KILN_E_MAPPER_PARSING,
                      "Root mapping definition has unsupported parameters:  [%s : %s]", key,
                      json_is_string(v) ? json_string_value(v) : "{...}");
            json_decref(json);
            return NULL;
        }
    }
    kiln_mapping *m = kiln_xcalloc(1, sizeof *m);
    atomic_init(&m->refs, 1);
    m->json = json;
    kiln__fields fs = {0};
    kiln_buf path = KILN_BUF_INIT;
    kiln_buf_reserve(&path, 64);
    path.data[0] = 0;
    if (kiln__parse_dynamic(json_object_get(json, "dynamic"), KILN_DYNAMIC_TRUE, &m->dynamic, err))
        goto fail;
    json_t *props = json_object_get(json, "properties");
    if (props && kiln__add_props(&fs, &path, props, m->dynamic, 0, err)) goto fail;
    kiln_buf_free(&path);
    if (fs.n) qsort(fs.v, fs.n, sizeof *fs.v, kiln__field_cmp);
    m->fields = fs.v;
    m->nfields = fs.n;
    return m;
fail:
    kiln_buf_free(&path);
    kiln__free_fields(fs.v, fs.n);
    json_decref(json);
    free(m);
    return NULL;
}

kiln_mapping *kiln_mapping_new(json_t *mappings, kiln_error *err)
{
    if (mappings && !json_is_object(mappings)) {
        kiln_fail(err, KILN_E_MAPPER_PARSING, "Failed to parse mapping: [mappings] must be an object");
        return NULL;
    }
    json_t *json = mappings ? json_deep_copy(mappings) : json_object();
    /* Types are gone since 7.0: {"_doc": {"properties": ...}} is refused as ES refuses it. */
    json_t *typed = json_object_get(json, "_doc");
    if (typed && json_is_object(typed) && json_object_size(json) == 1) {
        json_decref(json);
        kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                  "The mapping definition cannot be nested under a type [_doc] unless "
                  "include_type_name is set to true.");
        return NULL;
    }
    return kiln__build(json, err);
}

kiln_mapping *kiln_mapping_ref(kiln_mapping *m)
{
    atomic_fetch_add(&m->refs, 1);
    return m;
}

void kiln_mapping_unref(kiln_mapping *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
    kiln__free_fields(m->fields, m->nfields);
    json_decref(m->json);
    free(m);
}

const kiln_field *kiln_mapping_field(const kiln_mapping *m, const char *path)
{
    size_t lo = 0, hi = m->nfields;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->fields[mid].path, path);
        if (c == 0) return &m->fields[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- merging ------------------------------------------------------------------------------ */

static int kiln__merge_props(json_t *dst, json_t *src, const char *prefix, kiln_error *err)
{
    const char *key;
    json_t *def;
    json_object_foreach(src, key, def)
    {
        json_t *old = json_object_get(dst, key);
        if (!old) {
            json_object_set(dst, key, def);
            continue;
        }
        json_t *ot = json_object_get(old, "type"), *nt = json_object_get(def, "type");
        const char *ots = json_is_string(ot) ? json_string_value(ot) : "object";
        const char *nts = json_is_string(nt) ? json_string_value(nt) : "object";
        if (strcmp(ots, nts) != 0)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "mapper [%s%s] cannot be changed from type [%s] to [%s]", prefix, key,
                             ots, nts);
        /* stored text originals cannot appear or vanish under segments already written */
        json_t *os = json_object_get(old, "store"), *ns = json_object_get(def, "store");
        int ostore = kiln__is_true(os), nstore = kiln__is_true(ns);
        if (ns && ostore != nstore)
            return kiln_fail(err, KILN_E_ILLEGAL_ARGUMENT,
                             "Mapper for [%s%s] conflicts with existing mapper:\n\tCannot update "
                             "parameter [store] from [%s] to [%s]",
                             prefix, key, ostore ? "true" : "false", nstore ? "true" : "false");
        json_t *np = json_object_get(def, "properties");
        if (np && json_is_object(np)) {
            json_t *op = json_object_get(old, "properties");
            if (!op) json_object_set_new(old, "properties", op = json_object());
            char sub[1024];
            snprintf(sub, sizeof sub, "%s%s.", prefix, key);
            if (kiln__merge_props(op, np, sub, err)) return -1;
        }
        json_t *nf = json_object_get(def, "fields");
        if (nf && json_is_object(nf)) {
            json_t *of = json_object_get(old, "fields");
            if (!of) json_object_set_new(old, "fields", of = json_object());
            char sub[1024];
            snprintf(sub, sizeof sub, "%s%s.", prefix, key);
            if (kiln__merge_props(of, nf, sub, err)) return -1;
        }
        /* Other parameters may be updated where ES allows it (e.g. ignore_above). */
        const char *pk;
        json_t *pv;
        json_object_foreach(def, pk, pv)
        {
            if (strcmp(pk, "properties") && strcmp(pk, "fields")) json_object_set(old, pk, pv);
        }
    }
    return 0;
}

kiln_mapping *kiln_mapping_merge(const kiln_mapping *m, json_t *update, kiln_error *err)
{
    if (!json_is_object(update)) {
        kiln_fail(err, KILN_E_MAPPER_PARSING, "Failed to parse mapping: body must be an object");
        return NULL;
    }
    json_t *json = json_deep_copy(m->json);
    const char *key;
    json_t *v;
    json_object_foreach(update, key, v)
    {
        if (strcmp(key, "properties") == 0) {
            if (!json_is_object(v)) {
                kiln_fail(err, KILN_E_MAPPER_PARSING, "[properties] must be an object");
                goto fail;
            }
            json_t *props = json_object_get(json, "properties");
            if (!props) json_object_set_new(json, "properties", props = json_object());
            if (kiln__merge_props(props, v, "", err)) goto fail;
        } else {
            json_object_set(json, key, v);
        }
    }
    return kiln__build(json, err);
fail:
    json_decref(json);
    return NULL;
}

/* ---- documents ---------------------------------------------------------------------------- */

typedef struct {
    const kiln_mapping *m;
    const char *doc_id;
    json_t *added; /* deep copy of the mapping JSON once a dynamic field is found */
    int dirty;
    kiln_error *err;
} kiln__check;

static const char *kiln__preview(json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        snprintf(buf, cap, "%s", s ? s : "?");
        free(s);
    }
    return buf;
}

static int kiln__bad_value(kiln__check *c, const kiln_field *f, json_t *v, const char *why)
{
    char prev[128];
    return kiln_fail(c->err, KILN_E_MAPPER_PARSING,
                     "failed to parse field [%s] of type [%s] in document with id '%s'. "
                     "Preview of field's value: '%s'%s%s",
                     f->path, kiln_field_type_name(f->type), c->doc_id,
                     kiln__preview(v, prev, sizeof prev), why ? ": " : "", why ? why : "");
}

static int kiln__parse_number(json_t *v, double *out)
{
    if (json_is_number(v)) return (*out = json_number_value(v)), 0;
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    char *end;
    *out = strtod(s, &end);
    return *s && *end == 0 && isfinite(*out) ? 0 : -1;
}

/* Whether d fits the integer type t (long, integer, short, byte), as ES checks values. */
static int kiln__int_in_range(kiln_field_type t, double d)
{
    static const double lim[] = {[KILN_FT_LONG] = 9223372036854775807.0,
                                 [KILN_FT_INTEGER] = 2147483647.0,
                                 [KILN_FT_SHORT] = 32767.0,
                                 [KILN_FT_BYTE] = 127.0};
    return !(d > lim[t] || d < -lim[t] - 1);
}

static int kiln__check_value(kiln__check *c, const kiln_field *f, json_t *v)
{
    if (json_is_null(v)) return 0;
    if (json_is_object(v))
        return kiln_fail(c->err, KILN_E_MAPPER_PARSING,
                         "failed to parse field [%s] of type [%s] in document with id '%s'. "
                         "Preview of field's value: '{...}': expected a single value, found an "
                         "object",
                         f->path, kiln_field_type_name(f->type), c->doc_id);
    double d;
    switch (f->type) {
    case KILN_FT_TEXT:
    case KILN_FT_KEYWORD: return 0;
    case KILN_FT_BOOLEAN:
        if (json_is_boolean(v)) return 0;
        if (json_is_string(v) && (!strcmp(json_string_value(v), "true") ||
                                  !strcmp(json_string_value(v), "false") ||
                                  !*json_string_value(v)))
            return 0;
        return kiln__bad_value(c, f, v, "Failed to parse value, only [true] or [false] are allowed");
    case KILN_FT_DATE: {
        if (json_is_integer(v)) return 0;
        /* A custom "format" (yyyy-MM-dd HH:mm:ss...) is applied where the value is indexed
         * (src/search, with the DSL's date-format parser); here only the default format is
         * checked. TODO: share that parser so bad values are refused at write time too. */
        if (json_is_string(v) && json_is_string(json_object_get(f->def, "format"))) return 0;
        if (json_is_string(v)) {
            int64_t ms;
            const char *s = json_string_value(v);
            if (kiln_date_parse(s, strlen(s), &ms) == 0) return 0;
        }
        return kiln__bad_value(c, f, v, "failed to parse date field with format [strict_date_optional_time||epoch_millis]");
    }
    case KILN_FT_DOUBLE:
    case KILN_FT_FLOAT:
        if (kiln__parse_number(v, &d)) return kiln__bad_value(c, f, v, NULL);
        if (!isfinite(kiln_field_round(f, d))) /* past the type's range once stored */
            return kiln__bad_value(c, f, v, f->half_float ? "[half_float] supports only finite values"
                                                          : "[float] supports only finite values");
        return 0;
    case KILN_FT_LONG:
    case KILN_FT_INTEGER:
    case KILN_FT_SHORT:
    case KILN_FT_BYTE: {
        if (json_is_integer(v) && f->type == KILN_FT_LONG) return 0;
        if (kiln__parse_number(v, &d)) return kiln__bad_value(c, f, v, NULL);
        if (!kiln__int_in_range(f->type, d)) {
            char prev[64];
            return kiln_fail(c->err, KILN_E_MAPPER_PARSING,
                             "failed to parse field [%s] of type [%s] in document with id '%s'. "
                             "Preview of field's value: '%s': Value out of range",
                             f->path, kiln_field_type_name(f->type), c->doc_id,
                             kiln__preview(v, prev, sizeof prev));
        }
        return 0;
    }
    case KILN_FT_OBJECT: break;
    }
    char prev[128];
    return kiln_fail(c->err, KILN_E_MAPPER_PARSING,
                     "object mapping for [%s] tried to parse field [%s] as object, but found a "
                     "concrete value ('%s')",
                     f->path, f->path, kiln__preview(v, prev, sizeof prev));
}

/* The JSON definition a new field gets under dynamic mapping (ES rules); NULL: no mapping. */
static json_t *kiln__dynamic_def(json_t *v)
{
    while (json_is_array(v)) {
        json_t *first = NULL;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (!json_is_null(e))
        {
            first = e;
            break;
        }
        if (!first) return NULL;
        v = first;
    }
    if (json_is_object(v)) return json_pack("{s:{}}", "properties");
    if (json_is_integer(v)) return json_pack("{s:s}", "type", "long");
    if (json_is_real(v)) return json_pack("{s:s}", "type", "float");
    if (json_is_boolean(v)) return json_pack("{s:s}", "type", "boolean");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int64_t ms;
        size_t len = strlen(s);
        /* Date detection: at least yyyy-MM-dd, never a bare number. */
        if (len >= 10 && s[4] == '-' && kiln_date_parse(s, len, &ms) == 0)
            return json_pack("{s:s}", "type", "date");
        return json_pack("{s:s,s:{s:{s:s,s:i}}}", "type", "text", "fields", "keyword", "type",
                         "keyword", "ignore_above", 256);
    }
    return NULL;
}

/* The "properties" object of the object at `path` in c->added ("" for the root). */
static json_t *kiln__added_props(kiln__check *c, const char *path)
{
    if (!c->added) c->added = json_deep_copy(c->m->json);
    json_t *props = json_object_get(c->added, "properties");
    if (!props) json_object_set_new(c->added, "properties", props = json_object());
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *seg = tmp, *dot; *seg; seg = dot + 1) {
        dot = strchr(seg, '.');
        if (dot) *dot = 0;
        json_t *obj = json_object_get(props, seg);
        json_t *sub = json_object_get(obj, "properties");
        if (!sub) json_object_set_new(obj, "properties", sub = json_object());
        props = sub;
        if (!dot) break;
    }
    return props;
}

static int kiln__check_object(kiln__check *c, json_t *obj, kiln_buf *path, kiln_dynamic dyn);

static int kiln__check_entry(kiln__check *c, json_t *v, kiln_buf *path, const char *parent,
                             const char *key, kiln_dynamic dyn)
{
    const kiln_field *f = kiln_mapping_field(c->m, path->data);
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_array(e) || !f) {
                /* Nested arrays flatten, as in ES; unmapped fields are handled once below. */
                if (f && kiln__check_entry(c, e, path, parent, key, dyn)) return -1;
                continue;
            }
            if (f->type == KILN_FT_OBJECT) {
                if (!json_is_object(e) && !json_is_null(e)) return kiln__check_value(c, f, e);
                if (json_is_object(e) && kiln__check_object(c, e, path, f->dynamic)) return -1;
            } else if (kiln__check_value(c, f, e)) {
                return -1;
            }
        }
        if (f) return 0;
    }
    if (f) {
        if (f->type == KILN_FT_OBJECT) {
            if (json_is_null(v)) return 0;
            if (!json_is_object(v)) return kiln__check_value(c, f, v);
            return kiln__check_object(c, v, path, f->dynamic);
        }
        return kiln__check_value(c, f, v);
    }
    /* Unmapped. */
    if (dyn == KILN_DYNAMIC_FALSE) return 0;
    if (dyn == KILN_DYNAMIC_STRICT)
        return kiln_fail(c->err, KILN_E_MAPPER_PARSING,
                         "mapping set to strict, dynamic introduction of [%s] within [%s] is not "
                         "allowed",
                         key, parent[0] ? parent : "_doc");
    json_t *def = kiln__dynamic_def(v);
    if (!def) return 0;
    json_t *props = kiln__added_props(c, parent);
    json_t *existing = json_object_get(props, key);
    if (!existing) {
        json_object_set_new(props, key, def);
        c->dirty = 1;
    } else {
        json_decref(def);
    }
    /* Sub-objects of a new object (or of each object in a new array) are mapped too. */
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *ov = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_object(ov)) continue;
        /* Now mapped: check it like any mapped object (new fields below it are added). */
        size_t base = path->len;
        const char *k;
        json_t *sv;
        char parent_path[1024];
        snprintf(parent_path, sizeof parent_path, "%s", path->data);
        json_object_foreach(ov, k, sv)
        {
            kiln_buf_putc(path, '.');
            kiln_buf_puts(path, k);
            int rc = kiln__check_entry(c, sv, path, parent_path, k, dyn);
            path->len = base;
            path->data[base] = 0;
            if (rc) return rc;
        }
    }
    return 0;
}

static int kiln__check_object(kiln__check *c, json_t *obj, kiln_buf *path, kiln_dynamic dyn)
{
    size_t base = path->len;
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", path->data ? path->data : "");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!*key)
            return kiln_fail(c->err, KILN_E_MAPPER_PARSING,
                             "field name cannot be an empty string");
        if (base) kiln_buf_putc(path, '.');
        kiln_buf_puts(path, key);
        int rc = kiln__check_entry(c, v, path, parent, key, dyn);
        path->len = base;
        path->data[base] = 0;
        if (rc) return rc;
    }
    return 0;
}

int kiln_mapping_check_doc(const kiln_mapping *m, json_t *doc, const char *doc_id,
                           kiln_mapping **updated, kiln_error *err)
{
    *updated = NULL;
    if (!json_is_object(doc))
        return kiln_fail(err, KILN_E_MAPPER_PARSING, "failed to parse, document is empty");
    kiln__check c = {.m = m, .doc_id = doc_id, .err = err};
    kiln_buf path = KILN_BUF_INIT;
    kiln_buf_reserve(&path, 64);
    path.data[0] = 0;
    int rc = kiln__check_object(&c, doc, &path, m->dynamic);
    kiln_buf_free(&path);
    if (rc == 0 && c.dirty) {
        *updated = kiln__build(c.added, err);
        c.added = NULL;
        if (!*updated) rc = -1;
    }
    json_decref(c.added);
    return rc;
}

/* ---- the fast check over a tape ------------------------------------------------------------
 * Mirrors kiln__check_object/_entry/_value above for the outcome "passes, adds nothing"; any
 * other outcome answers 0 and the jansson path above decides (and words the error). */

typedef struct {
    const kiln_mapping *m;
    const kiln_json *doc;
    char path[1024];
} kiln__fast;

static int kiln__fast_number(const kiln_json *doc, const kiln_jnode *v, double *out)
{
    if (v->type == KILN_JSON_INT) return (*out = (double)v->v.i), 1;
    if (v->type == KILN_JSON_REAL) return (*out = v->v.d), 1;
    if (v->type != KILN_JSON_STRING) return 0;
    const char *s = kiln_json_string(doc, v);
    char *end;
    *out = strtod(s, &end);
    return *s && *end == 0 && isfinite(*out);
}

static int kiln__fast_value(const kiln_json *doc, const kiln_field *f, const kiln_jnode *v)
{
    if (v->type == KILN_JSON_NULL) return 1;
    if (v->type == KILN_JSON_OBJECT) return 0;
    double d;
    switch (f->type) {
    case KILN_FT_TEXT:
    case KILN_FT_KEYWORD: return 1;
    case KILN_FT_BOOLEAN:
        if (v->type == KILN_JSON_TRUE || v->type == KILN_JSON_FALSE) return 1;
        if (v->type != KILN_JSON_STRING) return 0;
        {
            const char *s = kiln_json_string(doc, v);
            return !strcmp(s, "true") || !strcmp(s, "false") || !*s;
        }
    case KILN_FT_DATE: {
        if (v->type == KILN_JSON_INT) return 1;
        if (v->type != KILN_JSON_STRING) return 0;
        if (json_is_string(json_object_get(f->def, "format"))) return 1;
        int64_t ms;
        return kiln_date_parse(kiln_json_string(doc, v), v->v.s.len, &ms) == 0;
    }
    case KILN_FT_DOUBLE:
    case KILN_FT_FLOAT:
        if (!kiln__fast_number(doc, v, &d)) return 0;
        return isfinite(kiln_field_round(f, d));
    case KILN_FT_LONG:
    case KILN_FT_INTEGER:
    case KILN_FT_SHORT:
    case KILN_FT_BYTE: {
        if (v->type == KILN_JSON_INT && f->type == KILN_FT_LONG) return 1;
        if (!kiln__fast_number(doc, v, &d)) return 0;
        return kiln__int_in_range(f->type, d);
    }
    case KILN_FT_OBJECT: break;
    }
    return 0;
}

static int kiln__fast_object(kiln__fast *c, const kiln_jnode *obj, size_t plen, kiln_dynamic dyn);

static int kiln__fast_entry(kiln__fast *c, const kiln_jnode *v, size_t plen, kiln_dynamic dyn)
{
    const kiln_field *f = kiln_mapping_field(c->m, c->path);
    if (v->type == KILN_JSON_ARRAY) {
        if (!f) return dyn == KILN_DYNAMIC_FALSE;
        const kiln_jnode *e = kiln_json_child(v);
        for (uint32_t k = 0; k < v->v.count; k++, e = kiln_json_next(c->doc, e)) {
            if (e->type == KILN_JSON_ARRAY) {
                if (!kiln__fast_entry(c, e, plen, dyn)) return 0;
            } else if (f->type == KILN_FT_OBJECT) {
                if (e->type == KILN_JSON_OBJECT) {
                    if (!kiln__fast_object(c, e, plen, f->dynamic)) return 0;
                } else if (e->type != KILN_JSON_NULL) {
                    return 0;
                }
            } else if (!kiln__fast_value(c->doc, f, e)) {
                return 0;
            }
        }
        return 1;
    }
    if (!f) return dyn == KILN_DYNAMIC_FALSE; /* unmapped: ignored, or the slow path decides */
    if (f->type == KILN_FT_OBJECT) {
        if (v->type == KILN_JSON_NULL) return 1;
        return v->type == KILN_JSON_OBJECT && kiln__fast_object(c, v, plen, f->dynamic);
    }
    return kiln__fast_value(c->doc, f, v);
}

static int kiln__fast_object(kiln__fast *c, const kiln_jnode *obj, size_t plen, kiln_dynamic dyn)
{
    const kiln_jnode *e = kiln_json_child(obj);
    for (uint32_t k = 0; k < obj->v.count; k++, e = kiln_json_next(c->doc, e)) {
        size_t klen = e->key_len, n = plen + (plen != 0);
        if (klen == 0 || n + klen + 1 > sizeof c->path) return 0;
        if (plen) c->path[plen] = '.';
        memcpy(c->path + n, kiln_json_key(c->doc, e), klen + 1);
        if (!kiln__fast_entry(c, e, n + klen, dyn)) return 0;
        c->path[plen] = 0;
    }
    return 1;
}

int kiln_mapping_doc_conforms(const kiln_mapping *m, const kiln_json *doc)
{
    const kiln_jnode *root = kiln_json_root(doc);
    if (!root || root->type != KILN_JSON_OBJECT) return 0;
    kiln__fast c;
    c.m = m;
    c.doc = doc;
    c.path[0] = 0;
    return kiln__fast_object(&c, root, 0, m->dynamic);
}

/* x rounded to the nearest IEEE half-precision value, ties to even (11 significant bits for
 * normal values, a quantum of 2^-24 below them; from 65,520 up it overflows to infinity). */
static double kiln__round_half(double x)
{
    double a = fabs(x);
    if (!isfinite(a)) return x;
    if (a >= 65520.0) return copysign(INFINITY, x);
    int e;
    frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    double ulp = ldexp(1.0, e - 11 < -24 ? -24 : e - 11);
    return copysign(nearbyint(a / ulp) * ulp, x); /* the default rounding: to nearest even */
}

double kiln_field_round_reduced(const kiln_field *f, double x)
{
    if (f->scaling_factor > 0) return floor(x * f->scaling_factor + 0.5) / f->scaling_factor;
    return kiln__round_half(x);
}
