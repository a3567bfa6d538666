#include "index/mapping.h"
#include "test.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) fprintf(stderr, "bad test JSON: %s\n", e.text);
    return j;
}

static void test_explicit_mapping(void)
{
    kiln_error err;
    json_t *def = J("{\"properties\": {\"name\": {\"type\": \"text\", \"fields\": {\"raw\": "
                    "{\"type\": \"keyword\"}}}, \"price\": {\"type\": \"double\"}, \"user\": "
                    "{\"properties\": {\"age\": {\"type\": \"integer\"}}}}}");
    kiln_mapping *m = kiln_mapping_new(def, &err);
    json_decref(def);
    CHECK(m != NULL);
    CHECK_INT(kiln_mapping_field(m, "name")->type, KILN_FT_TEXT);
    CHECK_INT(kiln_mapping_field(m, "name.raw")->type, KILN_FT_KEYWORD);
    CHECK(kiln_mapping_field(m, "name.raw")->is_multi_field);
    CHECK_INT(kiln_mapping_field(m, "user")->type, KILN_FT_OBJECT);
    CHECK_INT(kiln_mapping_field(m, "user.age")->type, KILN_FT_INTEGER);
    CHECK(kiln_mapping_field(m, "nope") == NULL);
    kiln_mapping_unref(m);

    def = J("{\"properties\": {\"x\": {\"type\": \"bogus\"}}}");
    CHECK(kiln_mapping_new(def, &err) == NULL);
    CHECK_INT(err.code, KILN_E_MAPPER_PARSING);
    CHECK_STR(err.reason, "No handler for type [bogus] declared on field [x]");
    json_decref(def);
}

static void test_dynamic_mapping(void)
{
    kiln_error err;
    kiln_mapping *m = kiln_mapping_new(NULL, &err), *upd;
    json_t *doc = J("{\"title\": \"hello\", \"count\": 3, \"ratio\": 0.5, \"ok\": true, "
                    "\"when\": \"2024-01-02T03:04:05Z\", \"tags\": [\"a\", \"b\"], "
                    "\"user\": {\"address\": {\"city\": \"Paris\"}}, \"items\": [{\"k\": 1}, {\"j\": \"x\"}], "
                    "\"nothing\": null}");
    CHECK_INT(kiln_mapping_check_doc(m, doc, "1", &upd, &err), 0);
    CHECK(upd != NULL);
    CHECK_INT(kiln_mapping_field(upd, "title")->type, KILN_FT_TEXT);
    CHECK_INT(kiln_mapping_field(upd, "title.keyword")->type, KILN_FT_KEYWORD);
    CHECK_INT(kiln_mapping_field(upd, "count")->type, KILN_FT_LONG);
    CHECK_INT(kiln_mapping_field(upd, "ratio")->type, KILN_FT_FLOAT);
    CHECK_INT(kiln_mapping_field(upd, "ok")->type, KILN_FT_BOOLEAN);
    CHECK_INT(kiln_mapping_field(upd, "when")->type, KILN_FT_DATE);
    CHECK_INT(kiln_mapping_field(upd, "tags")->type, KILN_FT_TEXT);
    CHECK_INT(kiln_mapping_field(upd, "user.address.city")->type, KILN_FT_TEXT);
    CHECK_INT(kiln_mapping_field(upd, "items.k")->type, KILN_FT_LONG);
    CHECK_INT(kiln_mapping_field(upd, "items.j")->type, KILN_FT_TEXT);
    CHECK(kiln_mapping_field(upd, "nothing") == NULL);
    /* The same document against the updated mapping needs no further change. */
    kiln_mapping *again;
    CHECK_INT(kiln_mapping_check_doc(upd, doc, "1", &again, &err), 0);
    CHECK(again == NULL);
    /* A wrong type against the learned mapping is rejected. */
    json_t *bad = J("{\"count\": \"many\"}");
    CHECK(kiln_mapping_check_doc(upd, bad, "2", &again, &err) < 0);
    CHECK_INT(err.code, KILN_E_MAPPER_PARSING);
    CHECK_STR(err.reason, "failed to parse field [count] of type [long] in document with id '2'. "
                          "Preview of field's value: 'many'");
    /* Numeric strings are coerced, as ES does by default. */
    json_t *coerce = J("{\"count\": \"42\", \"user\": {\"address\": {\"city\": 7}}}");
    CHECK_INT(kiln_mapping_check_doc(upd, coerce, "3", &again, &err), 0);
    json_t *obj_as_value = J("{\"user\": \"flat\"}");
    CHECK(kiln_mapping_check_doc(upd, obj_as_value, "4", &again, &err) < 0);
    json_decref(doc);
    json_decref(bad);
    json_decref(coerce);
    json_decref(obj_as_value);
    kiln_mapping_unref(upd);
    kiln_mapping_unref(m);
}

static void test_strict_and_false(void)
{
    kiln_error err;
    json_t *def = J("{\"dynamic\": \"strict\", \"properties\": {\"a\": {\"type\": \"keyword\"}}}");
    kiln_mapping *m = kiln_mapping_new(def, &err), *upd;
    json_t *doc = J("{\"a\": \"x\", \"b\": 1}");
    CHECK(kiln_mapping_check_doc(m, doc, "1", &upd, &err) < 0);
    CHECK_STR(err.reason, "mapping set to strict, dynamic introduction of [b] within [_doc] is not allowed");
    kiln_mapping_unref(m);
    json_decref(def);
    def = J("{\"dynamic\": false}");
    m = kiln_mapping_new(def, &err);
    CHECK_INT(kiln_mapping_check_doc(m, doc, "1", &upd, &err), 0);
    CHECK(upd == NULL);
    kiln_mapping_unref(m);
    json_decref(def);
    json_decref(doc);
}

static void test_merge(void)
{
    kiln_error err;
    json_t *def = J("{\"properties\": {\"a\": {\"type\": \"keyword\"}}}");
    kiln_mapping *m = kiln_mapping_new(def, &err);
    json_t *add = J("{\"properties\": {\"b\": {\"type\": \"long\"}}}");
    kiln_mapping *m2 = kiln_mapping_merge(m, add, &err);
    CHECK(m2 && kiln_mapping_field(m2, "a") && kiln_mapping_field(m2, "b"));
    json_t *change = J("{\"properties\": {\"a\": {\"type\": \"long\"}}}");
    CHECK(kiln_mapping_merge(m2, change, &err) == NULL);
    CHECK_STR(err.reason, "mapper [a] cannot be changed from type [keyword] to [long]");
    kiln_mapping_unref(m);
    kiln_mapping_unref(m2);
    json_decref(def);
    json_decref(add);
    json_decref(change);
}

static void test_dates(void)
{
    int64_t ms;
    CHECK_INT(kiln_date_parse("1970-01-01", 10, &ms), 0);
    CHECK_INT(ms, 0);
    CHECK_INT(kiln_date_parse("2024-02-29T12:00:00Z", 20, &ms), 0);
    CHECK_INT(ms, 1709208000000LL);
    CHECK_INT(kiln_date_parse("2024-02-29T12:00:00.5+01:00", 27, &ms), 0);
    CHECK_INT(ms, 1709204400500LL);
    CHECK_INT(kiln_date_parse("1709208000000", 13, &ms), 0);
    CHECK_INT(ms, 1709208000000LL);
    CHECK(kiln_date_parse("2023-02-29", 10, &ms) < 0);
    CHECK(kiln_date_parse("2024-13-01", 10, &ms) < 0);
    CHECK(kiln_date_parse("yesterday", 9, &ms) < 0);
}

/* kiln_mapping_doc_conforms answers 1 only where kiln_mapping_check_doc passes without adding a
 * field, and says 1 for the ordinary conforming document. */
static void test_fast_check_agrees(void)
{
    kiln_error err;
    json_t *def = J("{\"properties\": {\"t\": {\"type\": \"text\", \"fields\": {\"k\": {\"type\": "
                    "\"keyword\"}}}, \"n\": {\"type\": \"integer\"}, \"l\": {\"type\": \"long\"}, "
                    "\"b\": {\"type\": \"byte\"}, \"f\": {\"type\": \"float\"}, \"d\": {\"type\": "
                    "\"double\"}, \"ok\": {\"type\": \"boolean\"}, \"at\": {\"type\": \"date\"}, "
                    "\"atf\": {\"type\": \"date\", \"format\": \"yyyy/MM/dd\"}, \"o\": {\"properties\": "
                    "{\"x\": {\"type\": \"keyword\"}}}, \"loose\": {\"dynamic\": false, \"properties\": "
                    "{}}, \"strict\": {\"dynamic\": \"strict\", \"properties\": {}}}}");
    kiln_mapping *m = kiln_mapping_new(def, &err);
    json_decref(def);
    CHECK(m != NULL);
    static const struct {
        const char *doc;
        int conforms;
    } cases[] = {
        {"{\"t\":\"hello\",\"n\":3,\"l\":9007199254740993,\"f\":1.5,\"d\":\"2.5\",\"ok\":\"true\","
         "\"at\":\"2024-03-14T06:43:23Z\",\"atf\":\"2024/01/02\",\"o\":{\"x\":\"y\"},\"b\":-128}", 1},
        {"{\"t\":[\"a\",[\"b\",null],1,true],\"o\":[{\"x\":\"1\"},null],\"loose\":{\"new\":1}}", 1},
        {"{\"t\":null,\"n\":null,\"o\":null}", 1},
        {"{\"new\":1}", 0},                 /* adds a field */
        {"{\"o\":{\"new\":1}}", 0},         /* adds a field below an object */
        {"{\"strict\":{\"new\":1}}", 0},    /* strict: error */
        {"{\"n\":\"x\"}", 0},               /* not a number */
        {"{\"n\":2147483648}", 0},          /* out of range */
        {"{\"b\":128}", 0},
        {"{\"f\":1e39}", 0},
        {"{\"d\":\"nan\"}", 0},
        {"{\"ok\":\"yes\"}", 0},
        {"{\"ok\":1}", 0},
        {"{\"at\":\"yesterday\"}", 0},
        {"{\"at\":1.5}", 0},
        {"{\"t\":{\"a\":1}}", 0},           /* object for a value */
        {"{\"o\":\"scalar\"}", 0},          /* value for an object */
        {"{\"o\":[1]}", 0},
        {"{\"\":1}", 0},                    /* empty field name */
        {"[1]", 0},                         /* not an object */
    };
    kiln_json j = KILN_JSON_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_INT(kiln_json_parse(&j, cases[i].doc, strlen(cases[i].doc)), 0);
        int fast = kiln_mapping_doc_conforms(m, &j);
        if (fast != cases[i].conforms) KT_FAIL("fast check of %s: %d", cases[i].doc, fast);
        json_t *doc = J(cases[i].doc);
        kiln_mapping *upd = NULL;
        int slow = kiln_mapping_check_doc(m, doc, "1", &upd, &err);
        if (fast) CHECK(slow == 0 && upd == NULL); /* never says yes where the full check says no */
        if (!fast) CHECK(slow != 0 || upd != NULL);
        kiln_mapping_unref(upd);
        json_decref(doc);
    }
    kiln_json_dispose(&j);
    kiln_mapping_unref(m);
}

KT_MAIN(KT_CASE(test_fast_check_agrees), KT_CASE(test_explicit_mapping), KT_CASE(test_dynamic_mapping), KT_CASE(test_strict_and_false),
        KT_CASE(test_merge), KT_CASE(test_dates))
