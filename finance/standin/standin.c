/*
 * Stand-in for WeCom's closed Finance SDK (libWeWorkFinanceSdk_C.so), for tests, benchmarks
 * and `chatvault demo`. It exports the same 17 C functions with the same signatures as the
 * real header, and serves a scripted "world" instead of talking to Tencent.
 *
 * The world is a text file next to the library: `<path of this .so>.world`, one record a line,
 * fields separated by one space (the last field may contain spaces):
 *
 *   item <seq> <chatdata JSON object>      an element of GetChatData's "chatdata" array
 *   media <sdkfileid> <file path>          the bytes GetMediaData serves for that id
 *   fault <op> <kind> <marker path>        op: chat | media; kind: abort | hang | e10001 | corrupt
 *
 * A fault fires once: the first call of its op that finds its marker file missing creates the
 * marker, then aborts the process, hangs, returns 10001, or (media) corrupts the chunk's first
 * byte so that the md5 check fails.
 *
 * Encryption is this stand-in's own (Tencent's scheme is not documented): encrypt_chat_msg is
 * hex of ("CVSTANDIN1" + message JSON) XOR a keystream seeded by the FNV-1a hash of the
 * random key string. The RSA layer around the random key is done by whoever writes the world;
 * chatvault's connector does the RSA side, exactly as with the real SDK.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Slice_t {
    char *buf;
    int len;
} Slice_t;

typedef struct MediaData {
    char *outindexbuf;
    int out_len;
    char *data;
    int data_len;
    int is_finish;
} MediaData_t;

typedef struct Item {
    unsigned long long seq;
    char *json;
    size_t len;
} Item;

/* A `fault` or `media` record: its fields after the record kind, as written. */
typedef struct Record {
    char *line;
} Record;

typedef struct WeWorkFinanceSdk_t {
    int inited;
    Item *items;
    size_t n_items;
    /* Faults and media are kept from the last load: reading the world file per call made
     * every GetChatData cost the whole file, and a large world quadratic. */
    Record *faults;
    size_t n_faults;
    Record *media;
    size_t n_media;
    struct timespec loaded_mtime; /* the world is re-read when it changes: the feed grows */
    off_t loaded_size;
} WeWorkFinanceSdk_t;

#define CHUNK (512 * 1024)
#define MAGIC "CVSTANDIN1"

static char *world_path(void) {
    Dl_info info;
    if (!dladdr((void *)&world_path, &info) || !info.dli_fname) return NULL;
    size_t n = strlen(info.dli_fname);
    char *p = malloc(n + 7);
    if (!p) return NULL;
    memcpy(p, info.dli_fname, n);
    memcpy(p + n, ".world", 7);
    return p;
}

/* Reads the next line (without its newline) into a growing buffer; -1 at end of file. */
static long read_line(FILE *f, char **buf, size_t *cap) { return (long)getline(buf, cap, f); }

static void chomp(char *s, long *n) {
    while (*n > 0 && (s[*n - 1] == '\n' || s[*n - 1] == '\r')) s[--*n] = 0;
}

/* Whether a fault for (op, kind) is armed; if so, disarms it by creating its marker. */
static int fault_fires(WeWorkFinanceSdk_t *sdk, const char *op, const char *kind) {
    size_t oplen = strlen(op), kindlen = strlen(kind);
    for (size_t i = 0; i < sdk->n_faults; i++) {
        const char *p = sdk->faults[i].line; /* "<op> <kind> <marker path>" */
        if (strncmp(p, op, oplen) != 0 || p[oplen] != ' ') continue;
        p += oplen + 1;
        if (strncmp(p, kind, kindlen) != 0 || p[kindlen] != ' ') continue;
        const char *marker = p + kindlen + 1;
        if (access(marker, F_OK) == 0) continue;
        FILE *m = fopen(marker, "w");
        if (m) fclose(m);
        return 1;
    }
    return 0;
}

static int common_faults(WeWorkFinanceSdk_t *sdk, const char *op) {
    if (fault_fires(sdk, op, "abort")) abort();
    if (fault_fires(sdk, op, "hang")) {
        for (;;) sleep(3600);
    }
    if (fault_fires(sdk, op, "e10001")) return 10001;
    return 0;
}

static int load_items(WeWorkFinanceSdk_t *sdk);

WeWorkFinanceSdk_t *NewSdk(void) { return calloc(1, sizeof(WeWorkFinanceSdk_t)); }

int Init(WeWorkFinanceSdk_t *sdk, const char *corpid, const char *secret) {
    if (!sdk || !corpid || !secret || !*corpid || !*secret) return 10000;
    /* The real SDK writes to standard output too; the worker must keep its protocol off fd 1. */
    printf("finance stand-in: init for %s\n", corpid);
    fflush(stdout);
    int rc = load_items(sdk);
    if (rc == 0) sdk->inited = 1;
    return rc;
}

static void free_records(Record **records, size_t *n) {
    for (size_t i = 0; i < *n; i++) free((*records)[i].line);
    free(*records);
    *records = NULL;
    *n = 0;
}

static void free_items(WeWorkFinanceSdk_t *sdk) {
    for (size_t i = 0; i < sdk->n_items; i++) free(sdk->items[i].json);
    free(sdk->items);
    sdk->items = NULL;
    sdk->n_items = 0;
    free_records(&sdk->faults, &sdk->n_faults);
    free_records(&sdk->media, &sdk->n_media);
}

/* Appends a copy of `line` to a record list; 0 when out of memory. */
static int push_record(Record **records, size_t *n, const char *line) {
    Record *grown = realloc(*records, (*n + 1) * sizeof(Record));
    if (!grown) return 0;
    *records = grown;
    char *copy = strdup(line);
    if (!copy) return 0;
    grown[(*n)++].line = copy;
    return 1;
}

static int load_items(WeWorkFinanceSdk_t *sdk) {
    free_items(sdk);
    char *path = world_path();
    if (!path) return 10003;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f) return 10003;
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        sdk->loaded_mtime = st.st_mtim;
        sdk->loaded_size = st.st_size;
    }
    char *line = NULL;
    size_t cap = 0, max = 0;
    long n;
    while ((n = read_line(f, &line, &cap)) >= 0) {
        chomp(line, &n);
        if (strncmp(line, "fault ", 6) == 0) {
            if (!push_record(&sdk->faults, &sdk->n_faults, line + 6)) break;
            continue;
        }
        if (strncmp(line, "media ", 6) == 0) {
            if (!push_record(&sdk->media, &sdk->n_media, line + 6)) break;
            continue;
        }
        if (strncmp(line, "item ", 5) != 0) continue;
        char *end;
        unsigned long long seq = strtoull(line + 5, &end, 10);
        if (*end != ' ') continue;
        end++;
        if (sdk->n_items == max) {
            max = max ? max * 2 : 1024;
            Item *grown = realloc(sdk->items, max * sizeof(Item));
            if (!grown) break;
            sdk->items = grown;
        }
        size_t len = strlen(end);
        char *copy = malloc(len + 1);
        if (!copy) break;
        memcpy(copy, end, len + 1);
        sdk->items[sdk->n_items].seq = seq;
        sdk->items[sdk->n_items].json = copy;
        sdk->items[sdk->n_items].len = len;
        sdk->n_items++;
    }
    free(line);
    fclose(f);
    return 0;
}

/* Re-reads the world when its file changed since it was loaded. */
static void refresh_items(WeWorkFinanceSdk_t *sdk) {
    char *path = world_path();
    if (!path) return;
    struct stat st;
    int ok = stat(path, &st) == 0;
    free(path);
    if (ok && (st.st_size != sdk->loaded_size || st.st_mtim.tv_sec != sdk->loaded_mtime.tv_sec ||
               st.st_mtim.tv_nsec != sdk->loaded_mtime.tv_nsec))
        load_items(sdk);
}

void DestroySdk(WeWorkFinanceSdk_t *sdk) {
    if (!sdk) return;
    free_items(sdk);
    free(sdk);
}

int GetChatData(WeWorkFinanceSdk_t *sdk, unsigned long long seq, unsigned int limit, const char *proxy,
                const char *passwd, int timeout, Slice_t *chatDatas) {
    (void)proxy;
    (void)passwd;
    (void)timeout;
    if (!sdk || !sdk->inited || !chatDatas || limit > 1000) return 10000;
    refresh_items(sdk);
    int fault = common_faults(sdk, "chat");
    if (fault) return fault;
    static const char head[] = "{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":[";
    size_t cap = sizeof(head) + 4, len = 0;
    unsigned int taken = 0;
    for (size_t i = 0; i < sdk->n_items && taken < limit; i++) {
        if (sdk->items[i].seq > seq) {
            cap += sdk->items[i].len + 1;
            taken++;
        }
    }
    char *out = malloc(cap);
    if (!out) return 10003;
    memcpy(out, head, sizeof(head) - 1);
    len = sizeof(head) - 1;
    taken = 0;
    for (size_t i = 0; i < sdk->n_items && taken < limit; i++) {
        if (sdk->items[i].seq <= seq) continue;
        if (taken) out[len++] = ',';
        memcpy(out + len, sdk->items[i].json, sdk->items[i].len);
        len += sdk->items[i].len;
        taken++;
    }
    out[len++] = ']';
    out[len++] = '}';
    out[len] = 0;
    free(chatDatas->buf);
    chatDatas->buf = out;
    chatDatas->len = (int)len;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int DecryptData(const char *encrypt_key, const char *encrypt_msg, Slice_t *msg) {
    if (!encrypt_key || !encrypt_msg || !msg) return 10000;
    size_t klen = strlen(encrypt_key);
    if (klen < 16 || klen > 64) return 10008;
    for (size_t i = 0; i < klen; i++) {
        unsigned char c = (unsigned char)encrypt_key[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return 10008;
    }
    size_t hlen = strlen(encrypt_msg);
    if (hlen % 2 || hlen / 2 < sizeof(MAGIC) - 1) return 10006;
    uint64_t state = 1469598103934665603ULL;
    for (size_t i = 0; i < klen; i++) {
        state ^= (unsigned char)encrypt_key[i];
        state *= 1099511628211ULL;
    }
    size_t n = hlen / 2;
    char *plain = malloc(n + 1);
    if (!plain) return 10003;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(encrypt_msg[2 * i]), lo = hexval(encrypt_msg[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(plain);
            return 10006;
        }
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        plain[i] = (char)((hi << 4 | lo) ^ (int)(state >> 56));
    }
    plain[n] = 0;
    if (memcmp(plain, MAGIC, sizeof(MAGIC) - 1) != 0) {
        free(plain);
        return 10006;
    }
    size_t body = n - (sizeof(MAGIC) - 1);
    memmove(plain, plain + sizeof(MAGIC) - 1, body + 1);
    free(msg->buf);
    msg->buf = plain;
    msg->len = (int)body;
    return 0;
}

/* The file that serves `sdkfileid`, from the world's media records (caller frees). */
static char *media_file(WeWorkFinanceSdk_t *sdk, const char *sdkfileid) {
    size_t idlen = strlen(sdkfileid);
    for (size_t i = 0; i < sdk->n_media; i++) {
        const char *line = sdk->media[i].line; /* "<sdkfileid> <file path>" */
        if (strncmp(line, sdkfileid, idlen) == 0 && line[idlen] == ' ') return strdup(line + idlen + 1);
    }
    return NULL;
}

int GetMediaData(WeWorkFinanceSdk_t *sdk, const char *indexbuf, const char *sdkFileid, const char *proxy,
                 const char *passwd, int timeout, MediaData_t *media_data) {
    (void)proxy;
    (void)passwd;
    (void)timeout;
    if (!sdk || !sdk->inited || !sdkFileid || !media_data) return 10000;
    refresh_items(sdk);
    int fault = common_faults(sdk, "media");
    if (fault) return fault;
    char *file = media_file(sdk, sdkFileid);
    if (!file) return 10005;
    FILE *f = fopen(file, "rb");
    free(file);
    if (!f) return 10005;
    long long offset = (indexbuf && *indexbuf) ? atoll(indexbuf) : 0;
    fseek(f, 0, SEEK_END);
    long long size = ftell(f);
    if (offset < 0 || offset > size) {
        fclose(f);
        return 10000;
    }
    fseek(f, (long)offset, SEEK_SET);
    char *data = malloc(CHUNK);
    if (!data) {
        fclose(f);
        return 10003;
    }
    size_t got = fread(data, 1, CHUNK, f);
    fclose(f);
    if (got > 0 && fault_fires(sdk, "media", "corrupt")) data[0] ^= 0x5a;
    char *index = malloc(32);
    if (!index) {
        free(data);
        return 10003;
    }
    snprintf(index, 32, "%lld", offset + (long long)got);
    free(media_data->outindexbuf);
    free(media_data->data);
    media_data->outindexbuf = index;
    media_data->out_len = (int)strlen(index);
    media_data->data = data;
    media_data->data_len = (int)got;
    media_data->is_finish = offset + (long long)got >= size;
    return 0;
}

Slice_t *NewSlice(void) { return calloc(1, sizeof(Slice_t)); }

void FreeSlice(Slice_t *slice) {
    if (!slice) return;
    free(slice->buf);
    free(slice);
}

char *GetContentFromSlice(Slice_t *slice) { return slice ? slice->buf : NULL; }

int GetSliceLen(Slice_t *slice) { return slice ? slice->len : 0; }

MediaData_t *NewMediaData(void) { return calloc(1, sizeof(MediaData_t)); }

void FreeMediaData(MediaData_t *media_data) {
    if (!media_data) return;
    free(media_data->outindexbuf);
    free(media_data->data);
    free(media_data);
}

char *GetOutIndexBuf(MediaData_t *media_data) { return media_data ? media_data->outindexbuf : NULL; }

char *GetData(MediaData_t *media_data) { return media_data ? media_data->data : NULL; }

int GetIndexLen(MediaData_t *media_data) { return media_data ? media_data->out_len : 0; }

int GetDataLen(MediaData_t *media_data) { return media_data ? media_data->data_len : 0; }

int IsMediaDataFinish(MediaData_t *media_data) { return media_data ? media_data->is_finish : 0; }
