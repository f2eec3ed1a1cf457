/* cli/replay.c - `twin replay` and `twin recording`: a recording made by
 * `twin run --record` (twin/record.h, docs/recording.md) played back on
 * a simulated node, and turned into a fuzz seed or a test.
 *
 *   twin replay FILE [--seed N] [--trace] [--pcap DIR] [--tail DURATION]
 *               APP [OPTIONS]
 *   twin recording FILE [--dump]
 *   twin recording FILE --to-fuzz-seed OUT [--transport ID]
 *   twin recording FILE --to-test [--transport ID]
 *
 * Exit status of replay: 0 the writes agree, 1 they differ, 2 usage or
 * a file that cannot be read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "twin/app.h"
#include "twin/parse.h"
#include "twin/record.h"
#include "twin/replay.h"
#include "twin/twin.h"

/* Chunks a fuzz seed keeps exactly (twin/fuzz.h: 31 cuts of at most
 * 256 bytes each). */
#define SEED_CUTS_MAX 31
#define SEED_CUT_MAX 256
/* Payload bytes a test skeleton prints at most. */
#define SKELETON_BYTES_MAX (64u << 10)

static int replay_usage(void)
{
    fprintf(stderr,
            "usage: %s replay FILE [--seed N] [--trace] [--pcap DIR] [--tail DURATION]\n"
            "              APP [OPTIONS]\n"
            "  the app on a simulated node, its peers scripted from the recording;\n"
            "  exit 0 when its writes are the recorded ones, 1 when they differ\n",
            cli_name());
    return 2;
}

int tw_cli_replay(int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-')
        return replay_usage();
    const char *file = argv[0];
    tw_replay_opts o = {0};
    int i = 1;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--trace") == 0) {
            o.trace = stdout;
            i++;
            continue;
        }
        bool bad = !v;
        if (bad)
            ;
        else if (strcmp(opt, "--seed") == 0)
            bad = !cli_parse_u64(v, &o.seed);
        else if (strcmp(opt, "--pcap") == 0)
            o.pcap_dir = v;
        else if (strcmp(opt, "--tail") == 0)
            bad = tw_parse_duration(v, &o.tail_ns) < 0 || o.tail_ns <= 0;
        else {
            fprintf(stderr, "%s replay: unknown option '%s'\n", cli_name(), opt);
            return replay_usage();
        }
        if (bad) {
            fprintf(stderr, "%s replay: bad %s '%s'\n", cli_name(), opt, v ? v : "");
            return 2;
        }
        i += 2;
    }
    if (i >= argc)
        return replay_usage();
    const tw_app *app = tw_app_find(argv[i]);
    if (!app) {
        fprintf(stderr, "%s replay: no app named '%s' (see '%s apps'; apps of a "
                        "shared object need --load FILE.so)\n", cli_name(), argv[i],
                cli_name());
        return 2;
    }
    char err[512];
    tw_replay_result res;
    int rc = tw_replay(file, app, argc - i, argv + i, &o, &res, err, sizeof err);
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, "%s %s\n", cli_name(), err);
        /* the app's options come after its name, replay's before it */
        static const char *const own[] = {"--trace", "--seed", "--pcap", "--tail"};
        for (int k = i + 1; k < argc; k++)
            for (size_t m = 0; m < sizeof own / sizeof own[0]; m++)
                if (strcmp(argv[k], own[m]) == 0) {
                    fprintf(stderr, "%s replay: replay's own options (%s) go before the "
                                    "app's name: %s replay FILE %s ... %s ...\n",
                            cli_name(), own[m], cli_name(), own[m], argv[i]);
                    return 2;
                }
        return 2;
    }
    if (o.pcap_dir)
        printf("capture: %s/app.pcapng (wireshark or tshark -r)\n", o.pcap_dir);
    return rc;
}

/* ---- twin recording ---- */

static void dump(tw_recording *r, FILE *f)
{
    tw_rec_event ev;
    while (tw_recording_next(r, &ev) > 0) {
        char a[TW_ADDR_STRLEN], b[TW_ADDR_STRLEN];
        fprintf(f, "%lld.%09lld t%llu %s", (long long)(ev.time_ns / 1000000000),
                (long long)(ev.time_ns % 1000000000), (unsigned long long)ev.transport,
                tw_rec_type_name(ev.type));
        if (ev.a.len)
            fprintf(f, " %s", tw_addr_format(&ev.a, a, sizeof a));
        if (ev.b.len)
            fprintf(f, " local %s", tw_addr_format(&ev.b, b, sizeof b));
        if (ev.flags & TW_REC_F_ACCEPTED)
            fprintf(f, " accepted");
        if (ev.flags & TW_REC_F_TLS)
            fprintf(f, " tls");
        if (ev.flags & TW_REC_F_SENDFILE)
            fprintf(f, " sendfile");
        if (ev.flags & TW_REC_F_BEFORE)
            fprintf(f, " (open before this segment)");
        if (ev.flags & TW_REC_F_REDACTED)
            fprintf(f, " %lld bytes (redacted)", (long long)ev.num);
        else if (ev.len)
            fprintf(f, " %zu bytes", ev.len);
        else if (ev.num && ev.type != TW_REC_OPEN)
            fprintf(f, " %lld", (long long)ev.num);
        fputc('\n', f);
    }
}

/* The stream or datagram transport whose data came last (where a
 * crash was, most likely), or the one asked for; with streams, stream
 * transports only (a datagram endpoint's input is no stream to
 * script). 0: none. */
static uint64_t pick(const char *file, uint64_t want, bool streams, char *err,
                     size_t errlen)
{
    tw_recording *r = tw_recording_open(file, err, errlen);
    if (!r)
        return 0;
    uint64_t last = 0, dgram = 0; /* dgram: a datagram endpoint left out */
    bool seen = false, exists = false;
    /* the first PICK_NAMED transports that received data, to name them
     * when want is not one of them; more: more than those */
    enum { PICK_NAMED = 8 };
    uint64_t got[PICK_NAMED];
    size_t ngot = 0;
    bool more = false;
    tw_rec_event ev;
    while (tw_recording_next(r, &ev) > 0) {
        exists |= ev.transport == want;
        if (ev.type != TW_REC_DATA && ev.type != TW_REC_DGRAM)
            continue;
        if (streams && ev.type == TW_REC_DGRAM) {
            if (!want || ev.transport == want)
                dgram = ev.transport;
            continue;
        }
        size_t k = 0;
        while (k < ngot && got[k] != ev.transport)
            k++;
        if (k == ngot && ngot < PICK_NAMED)
            got[ngot++] = ev.transport;
        else if (k == ngot)
            more = true;
        if (!want || ev.transport == want) {
            last = ev.transport;
            seen = true;
        }
    }
    tw_recording_close(r);
    if (seen)
        return last;
    if (dgram && (want || !ngot)) {
        snprintf(err, errlen, "%s: t%llu is a datagram endpoint, and the scripted peer "
                 "of a test (twin/simtest.h) scripts streams only (--to-fuzz-seed "
                 "takes its datagrams)", file, (unsigned long long)dgram);
        return 0;
    }
    if (!ngot) {
        snprintf(err, errlen, "%s: no transport received anything", file);
        return 0;
    }
    int len = snprintf(err, errlen, "%s: t%llu %s (transports that received data:", file,
                       (unsigned long long)want,
                       exists ? "received nothing" : "is not in the recording");
    for (size_t k = 0; k < ngot && len >= 0 && (size_t)len < errlen; k++)
        len += snprintf(err + len, errlen - (size_t)len, " t%llu",
                        (unsigned long long)got[k]);
    if (len >= 0 && (size_t)len < errlen)
        snprintf(err + len, errlen - (size_t)len, "%s)", more ? " ..." : "");
    return 0;
}

static int to_fuzz_seed(const char *file, const char *out, uint64_t want)
{
    char err[512];
    uint64_t id = pick(file, want, false, err, sizeof err);
    if (!id) {
        fprintf(stderr, "%s recording: %s\n", cli_name(), err);
        return 2;
    }
    tw_recording *r = tw_recording_open(file, err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s recording: %s\n", cli_name(), err);
        return 2;
    }
    if (tw_recording_redacted(r)) {
        fprintf(stderr, "%s recording: %s is redacted: it has no payload to make a "
                        "seed of\n", cli_name(), file);
        tw_recording_close(r);
        return 2;
    }
    uint8_t cuts[SEED_CUTS_MAX];
    int ncuts = 0;
    bool exact = true, reset = false;
    size_t chunks = 0;
    char *pay = NULL;
    size_t plen = 0;
    FILE *p = open_memstream(&pay, &plen);
    tw_rec_event ev;
    while (p && tw_recording_next(r, &ev) > 0) {
        if (ev.transport != id)
            continue;
        if (ev.type == TW_REC_LOST && ev.num != 0)
            reset = true;
        if (ev.type != TW_REC_DATA && ev.type != TW_REC_DGRAM)
            continue;
        chunks++;
        fwrite(ev.data, 1, ev.len, p);
        for (size_t left = ev.len; left > 0;) {
            size_t c = left > SEED_CUT_MAX ? SEED_CUT_MAX : left;
            if (ev.type == TW_REC_DGRAM && left > SEED_CUT_MAX)
                exact = false; /* a datagram over 256 bytes is cut */
            if (ncuts == SEED_CUTS_MAX) {
                exact = false;
                break;
            }
            cuts[ncuts++] = (uint8_t)(c - 1);
            left -= c;
        }
    }
    tw_recording_close(r);
    if (!p || fclose(p) != 0) {
        fprintf(stderr, "%s recording: out of memory\n", cli_name());
        free(pay);
        return 2;
    }
    FILE *f = fopen(out, "wb");
    uint8_t h = (uint8_t)ncuts | (reset ? 0x20 : 0);
    bool ok = f && fwrite(&h, 1, 1, f) == 1 &&
              fwrite(cuts, 1, (size_t)ncuts, f) == (size_t)ncuts &&
              fwrite(pay, 1, plen, f) == plen;
    if (f && fclose(f) != 0)
        ok = false;
    free(pay);
    if (!ok) {
        fprintf(stderr, "%s recording: --to-fuzz-seed %s: %s\n", cli_name(), out,
                strerror(errno));
        return 2;
    }
    printf("%s: t%llu's %zu chunks (%zu bytes)%s, as tw_fuzz_protocol's input\n",
           out, (unsigned long long)id, chunks, plen, reset ? ", then a reset" : "");
    if (!exact)
        printf("note: a seed keeps %d cuts of 1..%d bytes: the first chunks keep their "
               "recorded sizes, the later ones are cut as the cuts repeat\n",
               SEED_CUTS_MAX, SEED_CUT_MAX);
    return 0;
}

static void c_bytes(FILE *f, const uint8_t *p, size_t n)
{
    fputs("        \"", f);
    size_t col = 0;
    for (size_t i = 0; i < n; i++, col++) {
        uint8_t c = p[i];
        if (col >= 64) {
            fputs("\"\n        \"", f);
            col = 0;
        }
        if (c == '\\' || c == '"')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c >= 32 && c < 127 && c != '?')
            fputc(c, f);
        else
            fprintf(f, "\\%03o", c);
    }
    fputs("\"", f);
}

static int to_test(const char *file, uint64_t want)
{
    char err[512];
    uint64_t id = pick(file, want, true, err, sizeof err);
    tw_recording *r = id ? tw_recording_open(file, err, sizeof err) : NULL;
    if (!r) {
        fprintf(stderr, "%s recording: %s\n", cli_name(), err);
        return 2;
    }
    bool redacted = tw_recording_redacted(r);
    FILE *f = stdout;
    uint8_t *out = NULL;
    size_t olen = 0, printed = 0;
    tw_ns last = 0;
    bool server = true, opened = false;
    tw_rec_event ev;
    fprintf(f, "/* A cmocka test made from a recording (%s, transport t%llu):\n"
               " * the peer does what the recorded peer did, at the recorded\n"
               " * times, in the recorded chunks, and expects what the protocol\n"
               " * wrote then. make_protocol is yours to fill in. */\n"
               "#include <setjmp.h>\n#include <stdarg.h>\n#include <stddef.h>\n"
               "#include <stdint.h>\n#include <cmocka.h>\n"
               "#include <twin/simtest.h>\n#include <twin/twin.h>\n\n"
               "tw_protocol *make_protocol(void *arg); /* the protocol under test */\n\n"
               "static void test_recorded_t%llu(void **state)\n{\n"
               "    (void)state;\n    tw_sim_opts o;\n    tw_sim_opts_default(&o);\n"
               "    o.chunk_split_probability = -1; /* the chunks as recorded */\n",
            file, (unsigned long long)id, (unsigned long long)id);
    while (tw_recording_next(r, &ev) > 0) {
        if (ev.transport != id)
            continue;
        last = ev.time_ns;
        if (ev.type == TW_REC_OPEN && !opened) {
            opened = true;
            server = ev.flags & TW_REC_F_ACCEPTED;
            fprintf(f, "    tw_simtest *st = tw_simtest_new(1, &o, make_protocol, NULL, %s);\n"
                       "    assert_non_null(st);\n",
                    server ? "true" : "false");
        }
        if (!opened)
            continue;
        size_t n = ev.flags & TW_REC_F_REDACTED ? (size_t)ev.num : ev.len;
        switch (ev.type) {
        case TW_REC_DATA:
            if (redacted || printed + n > SKELETON_BYTES_MAX) {
                fprintf(f, "    /* %lld ns: %zu bytes (%s) */\n", (long long)ev.time_ns, n,
                        redacted ? "redacted" : "past the skeleton's limit");
                break;
            }
            printed += n;
            fprintf(f, "    assert_int_equal(tw_simtest_send(st, %lldLL,\n", (long long)ev.time_ns);
            c_bytes(f, ev.data, n);
            fprintf(f, ", %zu), 0);\n", n);
            break;
        case TW_REC_EOF:
            fprintf(f, "    assert_int_equal(tw_simtest_write_eof(st, %lldLL), 0);\n",
                    (long long)ev.time_ns);
            break;
        case TW_REC_LOST:
            if (ev.num != 0)
                fprintf(f, "    assert_int_equal(tw_simtest_reset(st, %lldLL), 0);\n",
                        (long long)ev.time_ns);
            break;
        case TW_REC_WRITE:
            if (!redacted && olen + ev.len <= SKELETON_BYTES_MAX) {
                uint8_t *no = realloc(out, olen + ev.len + 1);
                if (no) {
                    out = no;
                    memcpy(out + olen, ev.data, ev.len);
                    olen += ev.len;
                }
            }
            break;
        default:
            break;
        }
    }
    tw_recording_close(r);
    if (!opened) {
        fprintf(f, "    tw_simtest *st = NULL; /* its start is not in the recording */\n");
    } else if (olen) {
        fprintf(f, "    static const char out[] =\n");
        c_bytes(f, out, olen);
        fprintf(f, ";\n    assert_int_equal(tw_simtest_expect(st, out, %zu, %lldLL), 0);\n",
                olen, (long long)(last + TW_SEC(1)));
    } else {
        fprintf(f, "    assert_int_equal(tw_simtest_run_until(st, %lldLL), 0);\n",
                (long long)(last + TW_SEC(1)));
    }
    free(out);
    fprintf(f, "    tw_simtest_free(st);\n}\n\nint main(void)\n{\n"
               "    const struct CMUnitTest tests[] = {\n"
               "        cmocka_unit_test(test_recorded_t%llu),\n    };\n"
               "    return cmocka_run_group_tests(tests, NULL, NULL);\n}\n",
            (unsigned long long)id);
    return 0;
}

static int recording_usage(void)
{
    fprintf(stderr,
            "usage: %s recording FILE [--dump]       the records, one line each\n"
            "       %s recording FILE --to-fuzz-seed OUT [--transport ID]\n"
            "                                one transport's input as a tw_fuzz_protocol seed\n"
            "       %s recording FILE --to-test [--transport ID]\n"
            "                                a scripted-peer cmocka test (C, on stdout)\n"
            "                                of a stream transport\n"
            "  without --transport: the transport that received data last (for --to-test,\n"
            "  the stream transport that did)\n",
            cli_name(), cli_name(), cli_name());
    return 2;
}

int tw_cli_recording(int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-')
        return recording_usage();
    const char *file = argv[0], *seed_out = NULL;
    bool test = false;
    uint64_t want = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--dump") == 0)
            continue;
        else if (strcmp(argv[i], "--to-test") == 0)
            test = true;
        else if (strcmp(argv[i], "--to-fuzz-seed") == 0 && v)
            seed_out = argv[++i];
        else if (strcmp(argv[i], "--transport") == 0 && v) {
            const char *s = v[0] == 't' ? v + 1 : v;
            if (!cli_parse_u64(s, &want) || want == 0) {
                fprintf(stderr, "%s recording: bad --transport '%s'\n", cli_name(), v);
                return 2;
            }
            i++;
        } else {
            /* Say which word is wrong before the usage: a file name after
             * --to-test (which writes on stdout) is the likely one. */
            if (strcmp(argv[i], "--to-fuzz-seed") == 0 || strcmp(argv[i], "--transport") == 0)
                fprintf(stderr, "%s recording: %s needs a value\n", cli_name(), argv[i]);
            else if (argv[i][0] == '-')
                fprintf(stderr, "%s recording: unknown option '%s'\n", cli_name(), argv[i]);
            else
                fprintf(stderr, "%s recording: unexpected argument '%s'%s\n", cli_name(),
                        argv[i], test ? " (--to-test writes the test on stdout: > FILE)" : "");
            return recording_usage();
        }
    }
    if (seed_out && test) {
        fprintf(stderr, "%s recording: --to-fuzz-seed and --to-test: pick one\n",
                cli_name());
        return 2;
    }
    if (seed_out)
        return to_fuzz_seed(file, seed_out, want);
    if (test)
        return to_test(file, want);
    char err[512];
    tw_recording *r = tw_recording_open(file, err, sizeof err);
    if (!r) {
        fprintf(stderr, "%s recording: %s\n", cli_name(), err);
        return 2;
    }
    printf("# %s: version %d%s, segment %llu\n", file, TW_RECORD_VERSION,
           tw_recording_redacted(r) ? ", redacted" : "",
           (unsigned long long)tw_recording_segment(r));
    dump(r, stdout);
    if (*tw_recording_tail(r))
        printf("# %s\n", tw_recording_tail(r));
    tw_recording_close(r);
    return 0;
}
