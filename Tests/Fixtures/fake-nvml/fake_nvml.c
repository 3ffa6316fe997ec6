/*
 * A stand-in for libnvidia-ml.so.1: the NVML calls fmctl makes, answered from settings instead
 * of hardware, so that GPU measurement is tested on machines without a GPU. The tests compile
 * it (cc -shared -fPIC) into a folder of their own; fmctl finds it there through
 * LD_LIBRARY_PATH, or the in-process tests open it by path.
 *
 * Energy advances per read, not per second, so that tests need no timing: the k-th read of a
 * GPU's energy counter (k = 0, 1, ...) returns start + k x power x step (mJ, modulo 2^64).
 *
 * Settings, read at the first nvmlInit_v2 from KEY=VALUE lines in fake-nvml.env beside the
 * library when that file exists (in-process tests cannot give each test its own environment),
 * else from the environment:
 *   FAKE_NVML_INIT_ERROR      nvmlInit_v2 returns this code (9: driver not loaded)
 *   FAKE_NVML_DEVICES         number of GPUs (default 1)
 *   FAKE_NVML_POWER_MW        power per GPU in mW, comma-separated (default 100000 each)
 *   FAKE_NVML_NO_ENERGY       GPUs whose energy counter answers NOT_SUPPORTED, e.g. "1,2"
 *   FAKE_NVML_ENERGY_START_MJ counter at the first read, per GPU (default 0)
 *   FAKE_NVML_FAIL            "gpu:first:count": that GPU's reads first .. first+count-1 fail
 *                             (its energy reads, or its power reads without a counter)
 *   FAKE_NVML_STEP_MS         simulated milliseconds per energy read (default 100)
 *   FAKE_NVML_POWER_LIMIT_MW  enforced power limit of every GPU (default 700000)
 * Compiled with -DFAKE_NVML_MINIMAL it exports only the symbols fmctl requires.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GPUS 16
enum { SUCCESS = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, UNKNOWN = 999 };

typedef struct {
    int index;
    unsigned int power_mw;
    int has_energy;
    unsigned long long energy_start_mj;
    unsigned long long reads;
    unsigned long long fail_first, fail_count;
} gpu_t;

static gpu_t gpus[MAX_GPUS];
static int gpu_count = 1, init_error = 0, configured = 0, initialized = 0;
static unsigned long long step_ms = 100;
static unsigned int power_limit_mw = 700000;
static char settings[4096];   /* the file's text, when there is one */

/* The value of KEY from fake-nvml.env beside this library, else from the environment. */
static const char *setting(const char *key) {
    static char value[512];
    if (!settings[0]) return getenv(key);
    size_t length = strlen(key);
    for (const char *line = settings; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
        if (strncmp(line, key, length) == 0 && line[length] == '=') {
            size_t n = strcspn(line + length + 1, "\n");
            if (n >= sizeof value) n = sizeof value - 1;
            memcpy(value, line + length + 1, n);
            value[n] = 0;
            return value;
        }
    }
    return NULL;
}

/* The i-th comma-separated number of KEY, or fallback. */
static unsigned long long listed(const char *key, int i, unsigned long long fallback) {
    const char *text = setting(key);
    for (int k = 0; text && *text; k++) {
        if (k == i) return strtoull(text, NULL, 10);
        text = strchr(text, ',');
        if (text) text++;
    }
    return fallback;
}

static void configure(void) {
    Dl_info info;
    if (dladdr((void *)configure, &info) && info.dli_fname) {
        char path[4096];
        snprintf(path, sizeof path, "%s", info.dli_fname);
        char *slash = strrchr(path, '/');
        snprintf(slash ? slash + 1 : path, sizeof path - (slash ? (size_t)(slash + 1 - path) : 0), "fake-nvml.env");
        FILE *file = fopen(path, "r");
        if (file) {
            size_t n = fread(settings, 1, sizeof settings - 1, file);
            settings[n] = 0;
            fclose(file);
        }
    }
    const char *text;
    if ((text = setting("FAKE_NVML_INIT_ERROR"))) init_error = atoi(text);
    if ((text = setting("FAKE_NVML_DEVICES"))) gpu_count = atoi(text);
    if (gpu_count < 0) gpu_count = 0;
    if (gpu_count > MAX_GPUS) gpu_count = MAX_GPUS;
    if ((text = setting("FAKE_NVML_STEP_MS"))) step_ms = strtoull(text, NULL, 10);
    if ((text = setting("FAKE_NVML_POWER_LIMIT_MW"))) power_limit_mw = (unsigned int)strtoul(text, NULL, 10);
    for (int i = 0; i < gpu_count; i++) {
        gpus[i].index = i;
        gpus[i].power_mw = (unsigned int)listed("FAKE_NVML_POWER_MW", i, 100000);
        gpus[i].energy_start_mj = listed("FAKE_NVML_ENERGY_START_MJ", i, 0);
        gpus[i].has_energy = 1;
    }
    for (int k = 0; setting("FAKE_NVML_NO_ENERGY") && k < MAX_GPUS; k++) {
        unsigned long long i = listed("FAKE_NVML_NO_ENERGY", k, MAX_GPUS);
        if (i < (unsigned long long)gpu_count) gpus[i].has_energy = 0;
    }
    unsigned int gpu = 0;
    unsigned long long first = 0, count = 0;
    if ((text = setting("FAKE_NVML_FAIL")) && sscanf(text, "%u:%llu:%llu", &gpu, &first, &count) == 3 && gpu < (unsigned)gpu_count) {
        gpus[gpu].fail_first = first;
        gpus[gpu].fail_count = count;
    }
    configured = 1;
}

/* Counts a measuring read of gpu; nonzero when it is one of the reads set to fail. */
static int read_fails(gpu_t *gpu) {
    unsigned long long k = gpu->reads++;
    return k >= gpu->fail_first && k < gpu->fail_first + gpu->fail_count;
}

int nvmlInit_v2(void) {
    if (!configured) configure();
    if (init_error) return init_error;
    initialized++;
    return SUCCESS;
}

int nvmlShutdown(void) {
    if (!initialized) return UNINITIALIZED;
    initialized--;
    return SUCCESS;
}

const char *nvmlErrorString(int result) {
    switch (result) {
    case SUCCESS: return "Success";
    case UNINITIALIZED: return "Uninitialized";
    case INVALID_ARGUMENT: return "Invalid Argument";
    case NOT_SUPPORTED: return "Not Supported";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
    }
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialized) return UNINITIALIZED;
    if (!count) return INVALID_ARGUMENT;
    *count = (unsigned int)gpu_count;
    return SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, gpu_t **device) {
    if (!initialized) return UNINITIALIZED;
    if (!device || index >= (unsigned int)gpu_count) return INVALID_ARGUMENT;
    *device = &gpus[index];
    return SUCCESS;
}

int nvmlDeviceGetName(gpu_t *device, char *name, unsigned int length) {
    if (!device || !name) return INVALID_ARGUMENT;
    snprintf(name, length, "Fake GPU %d", device->index);
    return SUCCESS;
}

int nvmlDeviceGetTotalEnergyConsumption(gpu_t *device, unsigned long long *energy) {
    if (!device || !energy) return INVALID_ARGUMENT;
    if (!device->has_energy) return NOT_SUPPORTED;
    unsigned long long k = device->reads;
    if (read_fails(device)) return UNKNOWN;
    *energy = device->energy_start_mj + k * device->power_mw * step_ms / 1000;   /* wraps modulo 2^64 */
    return SUCCESS;
}

int nvmlDeviceGetPowerUsage(gpu_t *device, unsigned int *power) {
    if (!device || !power) return INVALID_ARGUMENT;
    if (!device->has_energy && read_fails(device)) return UNKNOWN;
    *power = device->power_mw;
    return SUCCESS;
}

#ifndef FAKE_NVML_MINIMAL
int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!version) return INVALID_ARGUMENT;
    snprintf(version, length, "fake-1.0");
    return SUCCESS;
}

int nvmlDeviceGetEnforcedPowerLimit(gpu_t *device, unsigned int *limit) {
    if (!device || !limit) return INVALID_ARGUMENT;
    *limit = power_limit_mw;
    return SUCCESS;
}
#endif
