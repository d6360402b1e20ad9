/*
 * xenstore - a guest talking to xenstored over its store ring and event channel, as Linux's xenbus does:
 *   finds the ring page (start_info->store_mfn through the P2M list) and port, reads its domid and name,
 *   writes/reads/removes under its home (data/...), gets EACCES for another domain's and domain 0's paths and
 *   for a privileged request, lists directories, sets a watch that fires once at once and again on a write,
 *   commits a transaction, has one fail with EAGAIN after a conflicting write, and aborts one.
 * Replies are waited for with SCHEDOP_poll on the store port (events stay masked), 2 s at most each.
 * With "hostile-ring" on the command line it instead makes its request index jump past the ring size: the store must
 * close the connection (ring error XENSTORE_ERROR_RINGIDX) and answer nothing more, while other domains carry on.
 */
#include "guest.h"
#include "hypercall.h"

#define HC_update_va_mapping  14
#define HC_event_channel_op   32
#define EVTCHNOP_status        5
#define EVTCHNOP_send          4
#define EVTCHNOP_alloc_unbound 6
#define EVTCHNOP_close         3
#define EVTCHNSTAT_unbound     1
#define EVTCHNSTAT_interdomain 2
#define SCHEDOP_poll           3

#define _PAGE_PRESENT  0x001UL
#define _PAGE_RW       0x002UL
#define _PAGE_ACCESSED 0x020UL
#define SHARED_INFO_VA 0x3ff000UL

/* io/xs_wire.h */
enum {
    XS_DIRECTORY = 1, XS_READ = 2, XS_GET_PERMS = 3, XS_WATCH = 4, XS_UNWATCH = 5, XS_TRANSACTION_START = 6,
    XS_TRANSACTION_END = 7, XS_GET_DOMAIN_PATH = 10, XS_WRITE = 11, XS_MKDIR = 12, XS_RM = 13, XS_WATCH_EVENT = 15,
    XS_ERROR = 16, XS_IS_DOMAIN_INTRODUCED = 17,
};
#define XENSTORE_RING_SIZE 1024
#define XENSTORE_PAYLOAD_MAX 4096
#define MASK_XENSTORE_IDX(i) ((i) & (XENSTORE_RING_SIZE - 1))

struct xenstore_domain_interface {
    char req[XENSTORE_RING_SIZE];
    char rsp[XENSTORE_RING_SIZE];
    uint32_t req_cons, req_prod, rsp_cons, rsp_prod;
    uint32_t server_features, connection, error, evtchn_port;
};

struct xsd_sockmsg {
    uint32_t type, req_id, tx_id, len;
};

/* event_channel.h: status @8, vcpu @12, then unbound.dom / interdomain.dom @16, interdomain.port @20. */
struct evtchn_status {
    uint16_t dom, pad;
    uint32_t port, status, vcpu;
    uint16_t remote_dom, pad2;
    uint32_t remote_port;
};

static volatile struct shared_info *const shared = (volatile struct shared_info *)SHARED_INFO_VA;
static volatile struct xenstore_domain_interface *ring;
static uint32_t port;
static uint32_t next_req = 1;
static bool timed_out;

/* Watch events that arrived while waiting for a reply: "path\0token\0". */
#define MAX_EVENTS 8
static char events[MAX_EVENTS][128];
static unsigned int nr_events;

static long evtchn(int cmd, void *arg) { return hypercall2(HC_event_channel_op, cmd, arg); }

static uint64_t now(void) { return pvclock_read(&shared->vcpu_info[0].time); }

/* Kick the store, then wait until the port is pending (and clear it), at most until the deadline. */
static bool wait_store(uint64_t deadline)
{
    struct { uint32_t port; } send = { port };
    evtchn(EVTCHNOP_send, &send);
    unsigned long bit = 1UL << (port % 64);
    if ( __atomic_fetch_and(&shared->evtchn_pending[port / 64], ~bit, __ATOMIC_SEQ_CST) & bit )
        return true;
    if ( now() >= deadline )
        return false;
    uint32_t ports[1] = { port };
    struct { uint32_t *ports; uint32_t nr; uint32_t pad; uint64_t timeout; } poll = { ports, 1, 0, deadline };
    hc_sched_op(SCHEDOP_poll, &poll);
    __atomic_fetch_and(&shared->evtchn_pending[port / 64], ~bit, __ATOMIC_SEQ_CST);
    return true;
}

static bool ring_write(const void *data, uint32_t len)
{
    const char *p = data;
    uint64_t deadline = now() + 2000000000ULL;
    while ( len )
    {
        uint32_t prod = ring->req_prod;
        uint32_t space = XENSTORE_RING_SIZE - (prod - ring->req_cons);
        if ( space == 0 )
        {
            if ( !wait_store(deadline) )
                return false;
            continue;
        }
        uint32_t part = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
        if ( part > space ) part = space;
        if ( part > len ) part = len;
        memcpy((char *)ring->req + MASK_XENSTORE_IDX(prod), p, part);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        ring->req_prod = prod + part;
        p += part;
        len -= part;
    }
    return true;
}

static bool ring_read(void *data, uint32_t len)
{
    char *p = data;
    uint64_t deadline = now() + 2000000000ULL;
    while ( len )
    {
        uint32_t cons = ring->rsp_cons;
        uint32_t avail = ring->rsp_prod - cons;
        if ( avail == 0 )
        {
            if ( !wait_store(deadline) )
                return false;
            continue;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t part = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
        if ( part > avail ) part = avail;
        if ( part > len ) part = len;
        memcpy(p, (char *)ring->rsp + MASK_XENSTORE_IDX(cons), part);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        ring->rsp_cons = cons + part;
        p += part;
        len -= part;
    }
    return true;
}

static char reply[XENSTORE_PAYLOAD_MAX + 1];
static uint32_t reply_len;
static uint32_t reply_type;

/* One message out of the ring; watch events are put aside. Returns false on a timeout. */
static bool read_message(struct xsd_sockmsg *h)
{
    if ( !ring_read(h, sizeof(*h)) || h->len > XENSTORE_PAYLOAD_MAX || !ring_read(reply, h->len) )
        return false;
    reply[h->len] = 0;
    if ( h->type == XS_WATCH_EVENT && nr_events < MAX_EVENTS && h->len <= sizeof(events[0]) )
        memcpy(events[nr_events++], reply, h->len);
    return true;
}

/*
 * Sends a request made of n strings (each with its NUL, except a WRITE value which has none) and waits for its
 * reply. Returns the reply type (XS_ERROR with the errno name in reply[]), or 0 if the store did not answer.
 */
static uint32_t request(uint32_t type, uint32_t tx, const char *a, const char *b, bool b_nul)
{
    uint32_t la = a ? strlen(a) + 1 : 0, lb = b ? strlen(b) + (b_nul ? 1 : 0) : 0;
    struct xsd_sockmsg h = { type, next_req++, tx, la + lb };
    if ( !ring_write(&h, sizeof(h)) || (a && !ring_write(a, la)) || (b && !ring_write(b, lb)) )
    {
        timed_out = true;
        return 0;
    }
    struct { uint32_t port; } send = { port };
    evtchn(EVTCHNOP_send, &send);
    for ( ;; )
    {
        struct xsd_sockmsg r;
        if ( !read_message(&r) )
        {
            timed_out = true;
            return 0;
        }
        if ( r.type == XS_WATCH_EVENT )
            continue;
        if ( r.req_id != h.req_id || r.tx_id != tx )
        {
            test_failure("reply %u/%u for request %u/%u", r.req_id, r.tx_id, h.req_id, tx);
            return 0;
        }
        reply_len = r.len;
        reply_type = r.type;
        return r.type;
    }
}

static uint32_t xs1(uint32_t type, uint32_t tx, const char *arg) { return request(type, tx, arg, NULL, false); }
static uint32_t xs2(uint32_t type, uint32_t tx, const char *a, const char *b) { return request(type, tx, a, b, true); }
static uint32_t xs_write(uint32_t tx, const char *path, const char *value) { return request(XS_WRITE, tx, path, value, false); }

static bool is_error(const char *name) { return reply_type == XS_ERROR && strcmp(reply, name) == 0; }
static bool is_value(uint32_t type, const char *v) { return reply_type == type && reply_len == strlen(v) && memcmp(reply, v, reply_len) == 0; }
static bool is_ok(uint32_t type) { return reply_type == type && reply_len == 3 && strcmp(reply, "OK") == 0; }

/* Whether a DIRECTORY reply lists name. */
static bool lists(const char *name)
{
    for ( uint32_t off = 0; off < reply_len; off += strlen(reply + off) + 1 )
        if ( strcmp(reply + off, name) == 0 )
            return true;
    return false;
}

/* Takes the oldest event put aside, or waits for one. */
static bool next_event(char *path, size_t size, char *token, size_t tsize)
{
    while ( nr_events == 0 )
    {
        struct xsd_sockmsg h;
        if ( !read_message(&h) )
            return false;
    }
    snprintf(path, size, "%s", events[0]);
    snprintf(token, tsize, "%s", events[0] + strlen(events[0]) + 1);
    for ( unsigned int i = 1; i < nr_events; i++ )
        memcpy(events[i - 1], events[i], sizeof(events[0]));
    nr_events--;
    return true;
}

static uint32_t own_domid(void)
{
    /* As XTF's evtchn_get_domid: an unbound port offered to ourselves says who we are. */
    struct { uint16_t dom, remote; uint32_t port; } au = { 0x7ff0, 0x7ff0, 0 };
    if ( evtchn(EVTCHNOP_alloc_unbound, &au) )
        return ~0u;
    struct evtchn_status st = { 0x7ff0, 0, au.port, 0, 0, 0, 0, 0 };
    long rc = evtchn(EVTCHNOP_status, &st);
    struct { uint32_t port; } cl = { au.port };
    evtchn(EVTCHNOP_close, &cl);
    return rc == 0 && st.status == EVTCHNSTAT_unbound ? st.remote_dom : ~0u;
}

static bool find_ring(void)
{
    const uint64_t *p2m = (const uint64_t *)start_info->mfn_list;
    for ( uint64_t pfn = 0; pfn < start_info->nr_pages; pfn++ )
        if ( p2m[pfn] == start_info->store_mfn )
        {
            ring = (volatile struct xenstore_domain_interface *)(pfn << 12);
            return true;
        }
    return false;
}

void test_main(void)
{
    char buf[96], path[96], token[32];

    unsigned long pte = (start_info->shared_info & ~0xfffUL) | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED;
    if ( hypercall3(HC_update_va_mapping, SHARED_INFO_VA, pte, 2) != 0 )
        panic("cannot map shared_info");

    port = start_info->store_evtchn;
    struct evtchn_status st = { 0x7ff0, 0, port, 0, 0, 0, 0, 0 };
    long rc = evtchn(EVTCHNOP_status, &st);
    if ( !test_check(port != 0 && rc == 0 && st.status == EVTCHNSTAT_interdomain && st.remote_dom == 0,
                     "store port %u is interdomain with domain 0 (status %u, remote d%u)", port, st.status, st.remote_dom) ||
         !test_check(find_ring(), "store page (mfn %#lx) found through the P2M list", (unsigned long)start_info->store_mfn) )
        test_exit();
    printk("  server features %#x, connection %u, error %u\n", ring->server_features, ring->connection, ring->error);

    if ( cmdline_has("hostile-ring") )
    {
        ring->req_prod = ring->req_cons + XENSTORE_RING_SIZE + 7;
        uint64_t deadline = now() + 2000000000ULL;
        while ( ring->error == 0 && now() < deadline )
            wait_store(now() + 10000000ULL);
        test_check(ring->error == 2, "req_prod beyond the ring: the store closed it with XENSTORE_ERROR_RINGIDX (%u)", ring->error);
        ring->req_prod = ring->req_cons;
        test_check(xs1(XS_READ, 0, "name") == 0 && timed_out, "and answers nothing more");
        test_exit();
    }

    uint32_t domid = own_domid();
    snprintf(buf, sizeof(buf), "%u", domid);
    xs1(XS_READ, 0, "domid");
    test_check(is_value(XS_READ, buf), "domid reads %u", domid);
    xs1(XS_READ, 0, "name");
    test_check(reply_type == XS_READ && reply_len > 0, "name: %s", reply);
    snprintf(path, sizeof(path), "/local/domain/%u", domid);
    xs1(XS_GET_DOMAIN_PATH, 0, buf);
    test_check(is_value(XS_GET_DOMAIN_PATH, path) || (reply_len == strlen(path) + 1 && strcmp(reply, path) == 0),
               "GET_DOMAIN_PATH %s: %s", buf, reply);

    /* Home: data/ is the domain's. */
    xs_write(0, "data/test", "hello");
    test_check(is_ok(XS_WRITE), "write data/test");
    xs1(XS_READ, 0, "data/test");
    test_check(is_value(XS_READ, "hello"), "read data/test back: %s", reply);
    snprintf(path, sizeof(path), "/local/domain/%u/data/test", domid);
    xs1(XS_READ, 0, path);
    test_check(is_value(XS_READ, "hello"), "read it by its absolute path");
    xs1(XS_MKDIR, 0, "data/dir");
    test_check(is_ok(XS_MKDIR), "mkdir data/dir");
    xs1(XS_DIRECTORY, 0, "data");
    test_check(reply_type == XS_DIRECTORY && lists("test") && lists("dir"), "directory data lists test and dir");
    xs1(XS_GET_PERMS, 0, "data/test");
    snprintf(buf, sizeof(buf), "n%u", domid);
    test_check(reply_type == XS_GET_PERMS && strcmp(reply, buf) == 0, "data/test is the domain's own: %s", reply);
    xs1(XS_RM, 0, "data/test");
    test_check(is_ok(XS_RM), "rm data/test");
    xs1(XS_READ, 0, "data/test");
    test_check(is_error("ENOENT"), "data/test is gone: %s", reply);

    /* What a domU may not do. */
    xs1(XS_READ, 0, "/local/domain/0/name");
    test_check(is_error("EACCES"), "read /local/domain/0/name: %s", reply);
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid + 1);
    xs1(XS_READ, 0, path);
    test_check(is_error("EACCES"), "read %s: %s", path, reply);
    xs1(XS_DIRECTORY, 0, "/local/domain");
    test_check(is_error("EACCES"), "directory /local/domain: %s", reply);
    xs_write(0, "name", "renamed");
    test_check(is_error("EACCES"), "write name (read-only): %s", reply);
    xs_write(0, "/local/domain/0/x", "1");
    test_check(is_error("EACCES"), "write under /local/domain/0: %s", reply);
    xs1(XS_IS_DOMAIN_INTRODUCED, 0, "0");
    test_check(is_error("EACCES"), "IS_DOMAIN_INTRODUCED (privileged): %s", reply);
    xs1(99, 0, "x");
    test_check(is_error("ENOSYS"), "message type 99: %s", reply);
    xs1(XS_READ, 0, "data//x");
    test_check(is_error("EINVAL"), "read data//x: %s", reply);

    /* A watch: one event at once, one per write below it. */
    xs2(XS_WATCH, 0, "data/w", "tok");
    test_check(is_ok(XS_WATCH), "watch data/w");
    test_check(next_event(path, sizeof(path), token, sizeof(token)) && strcmp(path, "data/w") == 0 && strcmp(token, "tok") == 0,
               "the watch fires at once: %s %s", path, token);
    xs_write(0, "data/w/x", "1");
    test_check(is_ok(XS_WRITE), "write data/w/x");
    test_check(next_event(path, sizeof(path), token, sizeof(token)) && strcmp(path, "data/w/x") == 0 && strcmp(token, "tok") == 0,
               "and again on the write: %s %s", path, token);
    xs2(XS_UNWATCH, 0, "data/w", "tok");
    test_check(is_ok(XS_UNWATCH), "unwatch data/w");

    /* Transactions: a commit, a conflict, an abort. */
    xs1(XS_TRANSACTION_START, 0, "");
    uint32_t tx = 0;
    for ( const char *c = reply; *c >= '0' && *c <= '9'; c++ )
        tx = tx * 10 + (uint32_t)(*c - '0');
    test_check(reply_type == XS_TRANSACTION_START && tx != 0, "transaction %u started", tx);
    xs_write(tx, "data/tx/a", "1");
    xs1(XS_READ, tx, "data/tx/a");
    test_check(is_value(XS_READ, "1"), "the transaction sees its write");
    xs1(XS_READ, 0, "data/tx/a");
    test_check(is_error("ENOENT"), "nobody else does yet: %s", reply);
    xs1(XS_TRANSACTION_END, tx, "T");
    test_check(is_ok(XS_TRANSACTION_END), "commit: %s", reply);
    xs1(XS_READ, 0, "data/tx/a");
    test_check(is_value(XS_READ, "1"), "the write is visible after the commit");

    xs1(XS_TRANSACTION_START, 0, "");
    tx = 0;
    for ( const char *c = reply; *c >= '0' && *c <= '9'; c++ )
        tx = tx * 10 + (uint32_t)(*c - '0');
    xs1(XS_READ, tx, "data/tx/a");
    xs_write(0, "data/tx/a", "2");
    xs_write(tx, "data/tx/b", "1");
    xs1(XS_TRANSACTION_END, tx, "T");
    test_check(is_error("EAGAIN"), "a conflicting write makes the commit EAGAIN: %s", reply);
    xs1(XS_READ, 0, "data/tx/b");
    test_check(is_error("ENOENT"), "and nothing of it is applied: %s", reply);

    xs1(XS_TRANSACTION_START, 0, "");
    tx = 0;
    for ( const char *c = reply; *c >= '0' && *c <= '9'; c++ )
        tx = tx * 10 + (uint32_t)(*c - '0');
    xs_write(tx, "data/tx/c", "1");
    xs1(XS_TRANSACTION_END, tx, "F");
    test_check(is_ok(XS_TRANSACTION_END), "abort: %s", reply);
    xs1(XS_READ, 0, "data/tx/c");
    test_check(is_error("ENOENT"), "an aborted write is not applied: %s", reply);

    test_check(!timed_out && ring->error == 0, "the store answered everything (ring error %u)", ring->error);
    test_exit();
}
