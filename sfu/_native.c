/*
 * sfu._native: the forwarding path's per-copy work in C.
 *
 * One upstream RTP packet goes to every subscriber of its track. In Python each copy cost a
 * method call, a header written with struct, an SRTP protect through cffi and a datagram
 * transport's sendto: about 5 us of interpreter work on top of the protect and the kernel's
 * send (docs/BENCHMARKS.md, "Where the time goes"). Here one call does the whole fan-out of one
 * packet for every subscriber whose stream is in its steady state ("armed" lanes): rewrite the
 * sequence number and timestamp (Munger, the same arithmetic as sfu.munger.RtpMunger), write
 * the header (the same bytes as sfu.rtp_write.HeaderWriter), SRTP-protect in place with the
 * subscriber's own libsrtp context, and send the datagram on the subscriber's ICE socket.
 * Nothing here decodes media: the payload is copied as it is.
 *
 * Everything that is not the steady state (a subscriber waiting for a keyframe, paused, not yet
 * connected, a header that needs aiortc's two-byte extension form) stays on the Python path,
 * which calls the same Munger. The Python module sfu/forwarder.py arms and disarms lanes;
 * sfu/aiortc_glue.py supplies the socket, the address and the SRTP context.
 *
 * Safety: a lane holds its own dup() of the socket (a closed ICE transport cannot turn the
 * number into someone else's socket) and a reference to the Python object that owns the SRTP
 * context (it cannot be freed under the lane). Packets too long for the buffer go back to Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SEQ_MASK 0xFFFFLL
#define TS_MASK 0xFFFFFFFFLL
#define MAX_REORDER_PKTS (1LL << 14)
#define PT_NONE 0xFF
/* pylibsrtp's buffer is 1,500 bytes and it refuses packets that leave less than its maximum
 * trailer (16 + 128) free: the same limit here, so both paths accept the same packets. */
#define MAX_RTP_LEN (1500 - (16 + 128))
#define BUFFER_LEN 2048

typedef int (*protect_fn)(void *ctx, void *packet, int *length);

/* --- Munger ---------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    long long clock_rate;
    long long highest_out_seq;
    long long last_out_ts;
    double last_out_time;
    int has_last_out_time;
    PyObject *source; /* owned; NULL before the first packet */
    int need_anchor;
    int has_hi;
    long long hi_in_seq;
    long long hi_in_ts;
    long long seq_offset;
    long long ts_offset;
    long long anchor_in_seq;
    int newest;
} MungerObject;

static PyTypeObject MungerType;

static void munger_anchor(MungerObject *m, long long sequence_number, long long timestamp, double now) {
    long long in_seq = sequence_number & SEQ_MASK;
    long long in_ts = timestamp & TS_MASK;
    long long ts_step = 1;
    m->need_anchor = 0;
    m->has_hi = 1;
    m->hi_in_seq = in_seq;
    m->hi_in_ts = in_ts;
    if (m->has_last_out_time) {
        /* Python's round(): half to even, which nearbyint() does in the default rounding mode */
        double step = nearbyint((now - m->last_out_time) * (double)m->clock_rate);
        ts_step = step > 1.0 ? (long long)step : 1;
    }
    m->seq_offset = m->highest_out_seq + 1 - in_seq;
    m->ts_offset = m->last_out_ts + ts_step - in_ts;
    m->anchor_in_seq = in_seq;
}

/* 1: munged into out_seq and out_ts; 0: drop it (stale); -1: a Python error is set. */
static int munger_munge(MungerObject *m, PyObject *source, long long sequence_number, long long timestamp,
                        double now, long long *out_seq, long long *out_ts) {
    int other = 0;
    if (!m->need_anchor && source != m->source) {
        if (m->source == NULL) {
            other = 1;
        } else {
            int equal = PyObject_RichCompareBool(source, m->source, Py_EQ);
            if (equal < 0) return -1;
            other = !equal;
        }
    }
    if (m->need_anchor || other) {
        Py_INCREF(source);
        Py_XSETREF(m->source, source);
        munger_anchor(m, sequence_number, timestamp, now);
    }
    long long hi_seq = m->hi_in_seq;
    long long in_seq = hi_seq + ((((sequence_number & SEQ_MASK) - hi_seq + 0x8000) & SEQ_MASK) - 0x8000);
    long long hi_ts = m->hi_in_ts;
    long long in_ts = hi_ts + ((((timestamp & TS_MASK) - hi_ts + 0x80000000LL) & TS_MASK) - 0x80000000LL);
    if (in_seq > hi_seq) m->hi_in_seq = hi_seq = in_seq;
    if (in_ts > hi_ts) m->hi_in_ts = in_ts;
    if (in_seq < m->anchor_in_seq || hi_seq - in_seq >= MAX_REORDER_PKTS) return 0;
    long long o_seq = in_seq + m->seq_offset;
    long long o_ts = in_ts + m->ts_offset;
    if (o_seq > m->highest_out_seq) {
        m->highest_out_seq = o_seq;
        m->last_out_ts = o_ts;
        m->last_out_time = now;
        m->has_last_out_time = 1;
        m->newest = 1;
    } else {
        m->newest = 0;
    }
    *out_seq = o_seq & SEQ_MASK;
    *out_ts = o_ts & TS_MASK;
    return 1;
}

static int munger_init(MungerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"clock_rate", "first_sequence_number", "first_timestamp", NULL};
    long long clock_rate;
    long long first_seq, first_ts;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "L$LL", kwlist, &clock_rate, &first_seq, &first_ts))
        return -1;
    if (clock_rate <= 0) {
        PyErr_SetString(PyExc_ValueError, "clock_rate must be positive");
        return -1;
    }
    self->clock_rate = clock_rate;
    self->highest_out_seq = (first_seq & SEQ_MASK) - 1;
    self->last_out_ts = (first_ts & TS_MASK) - 1;
    self->has_last_out_time = 0;
    self->last_out_time = 0.0;
    Py_CLEAR(self->source);
    self->need_anchor = 1;
    self->has_hi = 0;
    self->hi_in_seq = self->hi_in_ts = self->seq_offset = self->ts_offset = self->anchor_in_seq = 0;
    self->newest = 0;
    return 0;
}

static int munger_traverse(MungerObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->source);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int munger_clear(MungerObject *self) {
    Py_CLEAR(self->source);
    return 0;
}

static void munger_dealloc(MungerObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    munger_clear(self);
    tp->tp_free((PyObject *)self);
}

static PyObject *munger_munge_fast(MungerObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "munge_fast(source, sequence_number, timestamp, now)");
        return NULL;
    }
    long long seq = PyLong_AsLongLong(args[1]);
    if (seq == -1 && PyErr_Occurred()) return NULL;
    long long ts = PyLong_AsLongLong(args[2]);
    if (ts == -1 && PyErr_Occurred()) return NULL;
    double now = PyFloat_AsDouble(args[3]);
    if (now == -1.0 && PyErr_Occurred()) return NULL;
    long long out_seq, out_ts;
    int rc = munger_munge(self, args[0], seq, ts, now, &out_seq, &out_ts);
    if (rc < 0) return NULL;
    if (rc == 0) Py_RETURN_NONE;
    return Py_BuildValue("(LL)", out_seq, out_ts);
}

static PyObject *munger_resync(MungerObject *self, PyObject *Py_UNUSED(ignored)) {
    self->need_anchor = 1;
    Py_RETURN_NONE;
}

static long long ring_diff(long long a, long long b, long long mask, long long half) {
    return ((a - b + half) & mask) - half;
}

static PyObject *munger_translate_timestamp(MungerObject *self, PyObject *arg) {
    long long ts = PyLong_AsLongLong(arg);
    if (ts == -1 && PyErr_Occurred()) return NULL;
    if (self->source == NULL || self->need_anchor || !self->has_hi) Py_RETURN_NONE;
    long long hi_ts = self->hi_in_ts;
    long long in_ts = hi_ts + ring_diff(ts & TS_MASK, hi_ts & TS_MASK, TS_MASK, 0x80000000LL);
    return PyLong_FromLongLong((in_ts + self->ts_offset) & TS_MASK);
}

static PyObject *munger_original_sequence_number(MungerObject *self, PyObject *arg) {
    long long out = PyLong_AsLongLong(arg);
    if (out == -1 && PyErr_Occurred()) return NULL;
    if (self->source == NULL || self->need_anchor || !self->has_hi) Py_RETURN_NONE;
    long long highest = self->highest_out_seq;
    long long out_ext = highest + ring_diff(out & SEQ_MASK, highest & SEQ_MASK, SEQ_MASK, 0x8000);
    if (out_ext > highest) Py_RETURN_NONE;
    long long in_seq = out_ext - self->seq_offset;
    if (in_seq < self->anchor_in_seq) Py_RETURN_NONE;
    return PyLong_FromLongLong(in_seq & SEQ_MASK);
}

static PyObject *munger_get_started(MungerObject *self, void *Py_UNUSED(c)) {
    return PyBool_FromLong(self->has_last_out_time);
}

static PyObject *munger_get_last_sequence_number(MungerObject *self, void *Py_UNUSED(c)) {
    return PyLong_FromLongLong(self->highest_out_seq & SEQ_MASK);
}

static PyObject *munger_get_last_timestamp(MungerObject *self, void *Py_UNUSED(c)) {
    return PyLong_FromLongLong(self->last_out_ts & TS_MASK);
}

static PyObject *munger_get_last_time(MungerObject *self, void *Py_UNUSED(c)) {
    if (!self->has_last_out_time) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->last_out_time);
}

static PyObject *munger_get_source(MungerObject *self, void *Py_UNUSED(c)) {
    if (self->source == NULL) Py_RETURN_NONE;
    return Py_NewRef(self->source);
}

static PyObject *munger_get_newest(MungerObject *self, void *Py_UNUSED(c)) {
    return PyBool_FromLong(self->newest);
}

static PyMethodDef munger_methods[] = {
    {"munge_fast", (PyCFunction)(void (*)(void))munger_munge_fast, METH_FASTCALL,
     "(source, sequence_number, timestamp, now) -> (sequence_number, timestamp) or None"},
    {"resync", (PyCFunction)munger_resync, METH_NOARGS, "Start a new segment at the next packet."},
    {"translate_timestamp", (PyCFunction)munger_translate_timestamp, METH_O, NULL},
    {"original_sequence_number", (PyCFunction)munger_original_sequence_number, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef munger_getset[] = {
    {"started", (getter)munger_get_started, NULL, NULL, NULL},
    {"last_sequence_number", (getter)munger_get_last_sequence_number, NULL, NULL, NULL},
    {"last_timestamp", (getter)munger_get_last_timestamp, NULL, NULL, NULL},
    {"last_time", (getter)munger_get_last_time, NULL, NULL, NULL},
    {"source", (getter)munger_get_source, NULL, NULL, NULL},
    {"newest", (getter)munger_get_newest, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MungerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sfu._native.Munger",
    .tp_doc = "sfu.munger.RtpMunger's state and arithmetic, in C (the forwarding path uses both).",
    .tp_basicsize = sizeof(MungerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)munger_init,
    .tp_dealloc = (destructor)munger_dealloc,
    .tp_traverse = (traverseproc)munger_traverse,
    .tp_clear = (inquiry)munger_clear,
    .tp_methods = munger_methods,
    .tp_getset = munger_getset,
};

/* --- Lane: one subscriber's copy of one track ------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    MungerObject *munger; /* owned; shared with the Python path */
    int armed;
    uint8_t pt_map[128];
    uint32_t ssrc;
    uint8_t mid_element[17];
    int mid_len;
    uint8_t abs_id;    /* the element's first byte, 0: not negotiated */
    uint8_t toffset_id;
    uint8_t level_id;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    void *srtp_ctx;
    protect_fn protect;
    PyObject *keepalive; /* owns the SRTP context */
    /* counters: the stream's, whichever path sent the packet */
    unsigned long long packets;
    unsigned long long octets;
    unsigned long long packets_sent;
    long long last_timestamp;
    double last_time;
    int has_last;
    double rtx_tokens;
    double rtx_share;
    double rtx_burst;
    unsigned long long send_failures;
} LaneObject;

static PyTypeObject LaneType;

static void lane_release(LaneObject *self) {
    self->armed = 0;
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    self->srtp_ctx = NULL;
    self->protect = NULL;
    Py_CLEAR(self->keepalive);
}

static int lane_init(LaneObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"munger", "rtx_share", "rtx_burst", NULL};
    PyObject *munger;
    double share, burst;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!dd", kwlist, &MungerType, &munger, &share, &burst)) return -1;
    lane_release(self);
    Py_INCREF(munger);
    Py_XSETREF(self->munger, (MungerObject *)munger);
    memset(self->pt_map, PT_NONE, sizeof(self->pt_map));
    self->rtx_share = share;
    self->rtx_burst = burst;
    self->rtx_tokens = burst;
    self->packets = self->octets = self->packets_sent = self->send_failures = 0;
    self->has_last = 0;
    self->last_timestamp = 0;
    self->last_time = 0.0;
    return 0;
}

static PyObject *lane_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    LaneObject *self = (LaneObject *)type->tp_alloc(type, 0);
    if (self != NULL) self->fd = -1;
    return (PyObject *)self;
}

static int lane_traverse(LaneObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->munger);
    Py_VISIT(self->keepalive);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int lane_clear(LaneObject *self) {
    lane_release(self);
    Py_CLEAR(self->munger);
    return 0;
}

static void lane_dealloc(LaneObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    lane_clear(self);
    tp->tp_free((PyObject *)self);
}

static int id_byte(int id, int length_minus_one, uint8_t *out) {
    if (id < 0 || id > 14) {
        PyErr_SetString(PyExc_ValueError, "extension ids of the one-byte form are 1 to 14");
        return -1;
    }
    *out = id ? (uint8_t)((id << 4) | length_minus_one) : 0;
    return 0;
}

/* arm(ssrc, mid_element, abs_id, toffset_id, level_id, pt_map, fd, host, port, srtp_ctx,
 *     protect, keepalive): the copy's header and its wire; from now on fan_out() sends it. */
static PyObject *lane_arm(LaneObject *self, PyObject *args) {
    unsigned long ssrc;
    Py_buffer mid;
    int abs_id, toffset_id, level_id, fd, port;
    PyObject *pt_map, *keepalive;
    const char *host;
    unsigned long long ctx, protect;
    if (!PyArg_ParseTuple(args, "ky*iiiO!isiKKO", &ssrc, &mid, &abs_id, &toffset_id, &level_id, &PyDict_Type,
                          &pt_map, &fd, &host, &port, &ctx, &protect, &keepalive))
        return NULL;
    uint8_t pts[128];
    memset(pts, PT_NONE, sizeof(pts));
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint8_t abs_b, toffset_b, level_b;
    int ok = mid.len <= 17 && ctx != 0 && protect != 0 && port > 0 && port < 65536 && ssrc <= 0xFFFFFFFFUL;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "bad lane parameters");
        goto fail;
    }
    if (id_byte(abs_id, 2, &abs_b) || id_byte(toffset_id, 2, &toffset_b) || id_byte(level_id, 0, &level_b)) goto fail;
    while (PyDict_Next(pt_map, &pos, &key, &value)) {
        long k = PyLong_AsLong(key), v = PyLong_AsLong(value);
        if (PyErr_Occurred()) goto fail;
        if (k < 0 || k > 127 || v < 0 || v > 127) {
            PyErr_SetString(PyExc_ValueError, "payload types are 0 to 127");
            goto fail;
        }
        pts[k] = (uint8_t)v;
    }
    memset(&addr, 0, sizeof(addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        addrlen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        addrlen = sizeof(*v6);
    } else {
        PyErr_SetString(PyExc_ValueError, "host is not a numeric IPv4 or IPv6 address");
        goto fail;
    }
    int copy = dup(fd);
    if (copy < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    lane_release(self);
    self->fd = copy;
    self->ssrc = (uint32_t)ssrc;
    memcpy(self->mid_element, mid.buf, (size_t)mid.len);
    self->mid_len = (int)mid.len;
    self->abs_id = abs_b;
    self->toffset_id = toffset_b;
    self->level_id = level_b;
    memcpy(self->pt_map, pts, sizeof(pts));
    self->addr = addr;
    self->addrlen = addrlen;
    self->srtp_ctx = (void *)(uintptr_t)ctx;
    self->protect = (protect_fn)(uintptr_t)protect;
    Py_INCREF(keepalive);
    self->keepalive = keepalive;
    self->armed = 1;
    PyBuffer_Release(&mid);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&mid);
    return NULL;
}

static PyObject *lane_disarm(LaneObject *self, PyObject *Py_UNUSED(ignored)) {
    lane_release(self);
    Py_RETURN_NONE;
}

static PyObject *lane_get_last_timestamp(LaneObject *self, void *Py_UNUSED(c)) {
    if (!self->has_last) Py_RETURN_NONE;
    return PyLong_FromLongLong(self->last_timestamp);
}

static PyObject *lane_get_last_time(LaneObject *self, void *Py_UNUSED(c)) {
    if (!self->has_last) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->last_time);
}

static PyObject *lane_get_armed(LaneObject *self, void *Py_UNUSED(c)) { return PyBool_FromLong(self->armed); }

static PyObject *lane_get_munger(LaneObject *self, void *Py_UNUSED(c)) {
    return Py_NewRef((PyObject *)self->munger);
}

/* sent(payload_size, size, timestamp, wallclock, newest, forwarded): a packet the Python path
 * sent; forwarded (not a resend) counts it as forwarded and refills the retransmission budget. */
static PyObject *lane_sent(LaneObject *self, PyObject *args) {
    long long payload_size, size, timestamp;
    double wallclock;
    int newest, forwarded;
    if (!PyArg_ParseTuple(args, "LLLdpp", &payload_size, &size, &timestamp, &wallclock, &newest, &forwarded))
        return NULL;
    self->packets += 1;
    self->octets += (unsigned long long)payload_size;
    if (newest) {
        self->last_timestamp = timestamp;
        self->last_time = wallclock;
        self->has_last = 1;
    }
    if (forwarded) {
        self->packets_sent += 1;
        double tokens = self->rtx_tokens + (double)size * self->rtx_share;
        self->rtx_tokens = tokens < self->rtx_burst ? tokens : self->rtx_burst;
    }
    Py_RETURN_NONE;
}

static PyMethodDef lane_methods[] = {
    {"arm", (PyCFunction)lane_arm, METH_VARARGS, "Start sending this copy from C."},
    {"disarm", (PyCFunction)lane_disarm, METH_NOARGS, "Back to the Python path; releases the socket."},
    {"sent", (PyCFunction)lane_sent, METH_VARARGS, "Count a packet the Python path sent."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef lane_members[] = {
    {"packets", T_ULONGLONG, offsetof(LaneObject, packets), 0, "packets sent (SR packet count)"},
    {"octets", T_ULONGLONG, offsetof(LaneObject, octets), 0, "payload octets sent (SR octet count)"},
    {"packets_sent", T_ULONGLONG, offsetof(LaneObject, packets_sent), 0, "forwarded packets (no resends)"},
    {"rtx_tokens", T_DOUBLE, offsetof(LaneObject, rtx_tokens), 0, "retransmission budget, bytes"},
    {"send_failures", T_ULONGLONG, offsetof(LaneObject, send_failures), READONLY, "sendto errors"},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef lane_getset[] = {
    {"last_timestamp", (getter)lane_get_last_timestamp, NULL, NULL, NULL},
    {"last_time", (getter)lane_get_last_time, NULL, NULL, NULL},
    {"armed", (getter)lane_get_armed, NULL, NULL, NULL},
    {"munger", (getter)lane_get_munger, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sfu._native.Lane",
    .tp_doc = "One subscriber's copy of one track: header, wire and counters.",
    .tp_basicsize = sizeof(LaneObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = lane_new,
    .tp_init = (initproc)lane_init,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_traverse = (traverseproc)lane_traverse,
    .tp_clear = (inquiry)lane_clear,
    .tp_methods = lane_methods,
    .tp_members = lane_members,
    .tp_getset = lane_getset,
};

/* --- the fan-out ------------------------------------------------------------------------------ */

/* The copy's bytes (unprotected) into buf; returns the length, or -1 when it does not fit. */
static Py_ssize_t write_copy(const LaneObject *lane, uint8_t *buf, int byte0, int marker_pt, long long seq, long long ts,
                             const Py_buffer *csrc, const Py_buffer *tail, const uint8_t *abs3,
                             const uint8_t *toffset, const uint8_t *level) {
    uint8_t body[17 + 4 + 4 + 2 + 3];
    int body_len = 0;
    memcpy(body, lane->mid_element, (size_t)lane->mid_len);
    body_len = lane->mid_len;
    if (lane->abs_id) {
        body[body_len++] = lane->abs_id;
        memcpy(body + body_len, abs3, 3);
        body_len += 3;
    }
    if (lane->toffset_id && toffset != NULL) {
        body[body_len++] = lane->toffset_id;
        memcpy(body + body_len, toffset, 3);
        body_len += 3;
    }
    if (lane->level_id && level != NULL) {
        body[body_len++] = lane->level_id;
        body[body_len++] = level[0];
    }
    int pad = (-body_len) & 3;
    Py_ssize_t ext_len = body_len ? 4 + body_len + pad : 0;
    Py_ssize_t total = 12 + csrc->len + ext_len + tail->len;
    if (total > MAX_RTP_LEN) return -1;
    uint8_t *p = buf;
    p[0] = (uint8_t)(byte0 | (body_len ? 0x10 : 0));
    p[1] = (uint8_t)marker_pt;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    p[4] = (uint8_t)(ts >> 24);
    p[5] = (uint8_t)(ts >> 16);
    p[6] = (uint8_t)(ts >> 8);
    p[7] = (uint8_t)ts;
    p[8] = (uint8_t)(lane->ssrc >> 24);
    p[9] = (uint8_t)(lane->ssrc >> 16);
    p[10] = (uint8_t)(lane->ssrc >> 8);
    p[11] = (uint8_t)lane->ssrc;
    p += 12;
    memcpy(p, csrc->buf, (size_t)csrc->len);
    p += csrc->len;
    if (body_len) {
        int words = (body_len + pad) >> 2;
        p[0] = 0xBE;
        p[1] = 0xDE;
        p[2] = (uint8_t)(words >> 8);
        p[3] = (uint8_t)words;
        memcpy(p + 4, body, (size_t)body_len);
        memset(p + 4 + body_len, 0, (size_t)pad);
        p += ext_len;
    }
    memcpy(p, tail->buf, (size_t)tail->len);
    return total;
}

static int optional_bytes(PyObject *obj, Py_ssize_t size, const uint8_t **out, const char *name) {
    if (obj == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyBytes_Check(obj) || PyBytes_GET_SIZE(obj) != size) {
        PyErr_Format(PyExc_ValueError, "%s must be None or %zd bytes", name, size);
        return -1;
    }
    *out = (const uint8_t *)PyBytes_AS_STRING(obj);
    return 0;
}

static double monotonic_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/*
 * fan_out(lanes, payload_type, sequence_number, timestamp, byte0, marker, csrc, tail,
 *         payload_size, abs3, toffset, level, source, now, wallclock, sample)
 *   -> (sent, sent_bytes, stale, failed, skipped, sample_time)
 *
 * Sends the packet to every armed lane whose subscriber negotiated its payload type. skipped:
 * the indices of the lanes left to the Python path (not armed, codec not mapped, too long), or
 * None; sample_time: time.monotonic() just after the copy at index `sample` left, or -1.0 when
 * that copy was not sent here.
 */
static PyObject *fan_out(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 16) {
        PyErr_SetString(PyExc_TypeError, "fan_out takes 16 arguments");
        return NULL;
    }
    PyObject *lanes = args[0];
    if (!PyList_Check(lanes) && !PyTuple_Check(lanes)) {
        PyErr_SetString(PyExc_TypeError, "lanes must be a list or a tuple");
        return NULL;
    }
    long pt_in = PyLong_AsLong(args[1]);
    long long seq_in = PyLong_AsLongLong(args[2]);
    long long ts_in = PyLong_AsLongLong(args[3]);
    long byte0 = PyLong_AsLong(args[4]);
    long marker = PyLong_AsLong(args[5]);
    long long payload_size = PyLong_AsLongLong(args[8]);
    double now = PyFloat_AsDouble(args[13]);
    double wallclock = PyFloat_AsDouble(args[14]);
    Py_ssize_t sample = PyLong_AsSsize_t(args[15]);
    if (PyErr_Occurred()) return NULL;
    if (pt_in < 0 || pt_in > 127 || byte0 < 0 || byte0 > 255 || (marker != 0 && marker != 0x80)) {
        PyErr_SetString(PyExc_ValueError, "bad RTP header fields");
        return NULL;
    }
    const uint8_t *abs3, *toffset, *level;
    if (optional_bytes(args[9], 3, &abs3, "abs3") || optional_bytes(args[10], 3, &toffset, "toffset") ||
        optional_bytes(args[11], 1, &level, "level"))
        return NULL;
    if (abs3 == NULL) {
        PyErr_SetString(PyExc_ValueError, "abs3 is required");
        return NULL;
    }
    PyObject *source = args[12];
    Py_buffer csrc, tail;
    if (PyObject_GetBuffer(args[6], &csrc, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[7], &tail, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&csrc);
        return NULL;
    }
    static uint32_t aligned[BUFFER_LEN / 4];
    uint8_t *buf = (uint8_t *)aligned;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(lanes);
    PyObject **items = PySequence_Fast_ITEMS(lanes);
    long long sent = 0, sent_bytes = 0, stale = 0, failed = 0;
    double sample_time = -1.0;
    PyObject *skipped = NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = items[i];
        int handled = 0;
        if (Py_IS_TYPE(item, &LaneType)) {
            LaneObject *lane = (LaneObject *)item;
            uint8_t pt = lane->armed ? lane->pt_map[pt_in] : PT_NONE;
            if (pt != PT_NONE) {
                long long seq, ts;
                MungerObject *m = lane->munger;
                /* the packet must fit before the munger moves on */
                Py_ssize_t estimate = 12 + csrc.len + 4 + 28 + tail.len;
                if (estimate <= MAX_RTP_LEN) {
                    handled = 1;
                    int rc = munger_munge(m, source, seq_in, ts_in, now, &seq, &ts);
                    if (rc < 0) goto error;
                    if (rc == 0) {
                        stale++;
                    } else {
                        Py_ssize_t size = write_copy(lane, buf, (int)byte0, (int)(marker | pt), seq, ts, &csrc,
                                                     &tail, abs3, toffset, level);
                        int length = (int)size;
                        if (size < 0 || lane->protect(lane->srtp_ctx, buf, &length) != 0) {
                            failed++;
                            lane->send_failures++;
                        } else if (sendto(lane->fd, buf, (size_t)length, MSG_DONTWAIT, (struct sockaddr *)&lane->addr,
                                          lane->addrlen) < 0) {
                            failed++;
                            lane->send_failures++;
                        } else {
                            if (i == sample) sample_time = monotonic_now();
                            sent++;
                            sent_bytes += size;
                            lane->packets_sent++;
                            lane->packets++;
                            lane->octets += (unsigned long long)payload_size;
                            if (m->newest) {
                                lane->last_timestamp = ts;
                                lane->last_time = wallclock;
                                lane->has_last = 1;
                            }
                            double tokens = lane->rtx_tokens + (double)size * lane->rtx_share;
                            lane->rtx_tokens = tokens < lane->rtx_burst ? tokens : lane->rtx_burst;
                        }
                    }
                }
            }
        }
        if (!handled) {
            if (skipped == NULL && (skipped = PyList_New(0)) == NULL) goto error;
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(skipped, index) < 0) {
                Py_XDECREF(index);
                goto error;
            }
            Py_DECREF(index);
        }
    }
    PyBuffer_Release(&csrc);
    PyBuffer_Release(&tail);
    if (skipped == NULL) skipped = Py_NewRef(Py_None);
    return Py_BuildValue("(LLLLNd)", sent, sent_bytes, stale, failed, skipped, sample_time);
error:
    PyBuffer_Release(&csrc);
    PyBuffer_Release(&tail);
    Py_XDECREF(skipped);
    return NULL;
}

/* write(lane, ...same packet fields as fan_out, sequence_number and timestamp already munged)
 * -> bytes: the copy's unprotected bytes, for tests that compare it with the Python writer. */
static PyObject *write_packet(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *lane_obj, *abs_obj, *toffset_obj, *level_obj;
    int pt, byte0, marker;
    long long seq, ts;
    Py_buffer csrc, tail;
    if (!PyArg_ParseTuple(args, "O!iLLiiy*y*OOO", &LaneType, &lane_obj, &pt, &seq, &ts, &byte0, &marker, &csrc,
                          &tail, &abs_obj, &toffset_obj, &level_obj))
        return NULL;
    const uint8_t *abs3, *toffset, *level;
    PyObject *result = NULL;
    if (optional_bytes(abs_obj, 3, &abs3, "abs3") || optional_bytes(toffset_obj, 3, &toffset, "toffset") ||
        optional_bytes(level_obj, 1, &level, "level"))
        goto done;
    static uint8_t out[BUFFER_LEN];
    static const uint8_t zero3[3] = {0, 0, 0};
    Py_ssize_t size = write_copy((LaneObject *)lane_obj, out, byte0, (marker | pt) & 0xFF, seq & SEQ_MASK,
                                 ts & TS_MASK, &csrc, &tail, abs3 ? abs3 : zero3, toffset, level);
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "packet too long");
        goto done;
    }
    result = PyBytes_FromStringAndSize((const char *)out, size);
done:
    PyBuffer_Release(&csrc);
    PyBuffer_Release(&tail);
    return result;
}

static PyMethodDef module_methods[] = {
    {"fan_out", (PyCFunction)(void (*)(void))fan_out, METH_FASTCALL, "Send one packet to every armed lane."},
    {"write_packet", write_packet, METH_VARARGS, "One copy's bytes, unprotected (tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sfu._native",
    .m_doc = "The forwarding path's per-copy work in C (see sfu/_native.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&MungerType) < 0 || PyType_Ready(&LaneType) < 0) return NULL;
    PyObject *module = PyModule_Create(&native_module);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Munger", (PyObject *)&MungerType) < 0 ||
        PyModule_AddObjectRef(module, "Lane", (PyObject *)&LaneType) < 0 ||
        PyModule_AddIntConstant(module, "MAX_RTP_LEN", MAX_RTP_LEN) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
