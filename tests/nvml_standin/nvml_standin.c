/*
 * A stand-in for libnvidia-ml.so.1 so the whole NVML path of dockui runs without a GPU.
 * Serves two fake GPUs with running compute processes. Symbol names and struct layouts follow
 * nvml-wrapper-sys 0.10 (what nvml-wrapper 0.13 looks up).
 *
 * Build: cc -shared -fPIC -o libnvidia-ml.so nvml_standin.c
 *   -DMISSING_OPTIONAL         leave out optional entry points (power, temperature, processes, CUDA
 *                              version), like an old or trimmed driver, and report NOT_SUPPORTED for
 *                              GPU 1's memory
 *   -DUTIL_FILE="\"/path\""    GPU 0 utilization is read from this file on every call (tests change it)
 *   -DEXTRA_PID=1234           GPU 0 also lists this (real) PID, to test container detection
 *   -DNO_GPUS                  report zero devices
 *   -DEIGHT_GPUS               report eight devices (an 8-GPU box: the two above, then six more H100s)
 */
#include <stdio.h>
#include <string.h>

typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_INSUFFICIENT_SIZE 7

typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

struct fake_proc {
    unsigned int pid;
    unsigned long long used;
};

struct fake_gpu {
    const char *name;
    const char *uuid;
    int cc_major, cc_minor;
    unsigned int util_gpu, util_mem;
    unsigned long long mem_total, mem_used;
    unsigned int temp_c;
    unsigned int power_mw, limit_mw;
    /* PIDs above Linux's maximum pid (4194304) never exist, so the snapshot is deterministic. */
    struct fake_proc procs[3];
    unsigned int nprocs;
};

typedef struct fake_gpu *nvmlDevice_t;

#ifdef EIGHT_GPUS
#define NGPUS 8
#else
#define NGPUS 2
#endif

#define H100(n) {"NVIDIA H100 80GB HBM3", "GPU-9d3c2b1a-0f4e-4c1d-8e2a-5b6c7d8e9f0" #n, 9, 0, 10 * n, 5 * n, \
     85899345920ULL, 1073741824ULL * n, 30 + n, 100000 + 10000 * n, 700000, {{0, 0}}, 0}

static struct fake_gpu gpus[NGPUS] = {
    {"NVIDIA H100 80GB HBM3", "GPU-9d3c2b1a-0f4e-4c1d-8e2a-5b6c7d8e9f01", 9, 0, 87, 41,
     85899345920ULL, 62277025792ULL, 64, 412345, 700000,
     {{5000001, 41943040000ULL}, {5000002, 20401094656ULL}}, 2},
    {"NVIDIA GeForce RTX 5090", "GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", 12, 0, 0, 0,
     34190917632ULL, 566231040ULL, 38, 31500, 575000,
     {{5000003, 471859200ULL}}, 1},
#ifdef EIGHT_GPUS
    H100(2), H100(3), H100(4), H100(5), H100(6), H100(7),
#endif
};

static int initialized = 0;

nvmlReturn_t nvmlInit_v2(void) {
    initialized = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    initialized = 1;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void) {
    initialized = 0;
    return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    default: return "Unknown Error";
    }
}

static nvmlReturn_t copy_str(char *dst, unsigned int len, const char *src) {
    if (dst == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(src) + 1 > len) return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(dst, src);
    return NVML_SUCCESS;
}

static int valid(nvmlDevice_t d) {
    return initialized && d >= &gpus[0] && d < &gpus[NGPUS];
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    return copy_str(version, length, "550.54.14");
}

#ifndef MISSING_OPTIONAL
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *version) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    *version = 12040;
    return NVML_SUCCESS;
}
#endif

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
#ifdef NO_GPUS
    *count = 0;
#else
    *count = NGPUS;
#endif
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (index >= NGPUS || device == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &gpus[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    return copy_str(name, length, d->name);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    return copy_str(uuid, length, d->uuid);
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = d->util_gpu;
    u->memory = d->util_mem;
#ifdef UTIL_FILE
    if (d == &gpus[0]) {
        FILE *f = fopen(UTIL_FILE, "r");
        unsigned int v;
        if (f != NULL) {
            if (fscanf(f, "%u", &v) == 1) u->gpu = v;
            fclose(f);
        }
    }
#endif
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    /* nvml.h: NVML_STRUCT_VERSION(Memory, 2) = sizeof | 2 << 24; real drivers reject others. */
    if (m->version != ((unsigned int)sizeof(nvmlMemory_v2_t) | (2u << 24))) return NVML_ERROR_INVALID_ARGUMENT;
#ifdef MISSING_OPTIONAL
    if (d == &gpus[1]) return NVML_ERROR_NOT_SUPPORTED;
#endif
    m->total = d->mem_total;
    m->used = d->mem_used;
    m->reserved = 0;
    m->free = d->mem_total - d->mem_used;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *major, int *minor) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    *major = d->cc_major;
    *minor = d->cc_minor;
    return NVML_SUCCESS;
}

#ifndef MISSING_OPTIONAL
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *temp) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    if (sensor != 0) return NVML_ERROR_NOT_SUPPORTED;
    *temp = d->temp_c;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    *mw = d->power_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw) {
    if (!valid(d)) return NVML_ERROR_INVALID_ARGUMENT;
    *mw = d->limit_mw;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count,
                                                     nvmlProcessInfo_t *infos) {
    if (!valid(d) || count == NULL) return NVML_ERROR_INVALID_ARGUMENT;
    struct fake_proc procs[4];
    unsigned int n = d->nprocs;
    memcpy(procs, d->procs, sizeof(struct fake_proc) * n);
#ifdef EXTRA_PID
    if (d == &gpus[0]) {
        procs[n].pid = EXTRA_PID;
        procs[n].used = 1073741824ULL;
        n++;
    }
#endif
    /* Like the driver: with a null or short buffer, report the count and INSUFFICIENT_SIZE. */
    if (infos == NULL || *count < n) {
        *count = n;
        return n == 0 ? NVML_SUCCESS : NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < n; i++) {
        infos[i].pid = procs[i].pid;
        infos[i].usedGpuMemory = procs[i].used;
        infos[i].gpuInstanceId = 0xFFFFFFFFu;
        infos[i].computeInstanceId = 0xFFFFFFFFu;
    }
    *count = n;
    return NVML_SUCCESS;
}
#endif
