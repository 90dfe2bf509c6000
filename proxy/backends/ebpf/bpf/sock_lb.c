// SPDX-License-Identifier: GPL-2.0
// Socket load balancing: cgroup hooks that rewrite a service address to one of its
// endpoints when a process connects or sends, so no packet is ever NATed. The maps' byte
// layouts are mirrored, field by field, in ../maps.ts (the one TypeScript encoder).
//
//   connect4/6   TCP and UDP connect(): service address -> endpoint
//   sendmsg4/6   unconnected UDP sendto(): service address -> endpoint
//   recvmsg4/6   UDP recvfrom(): endpoint -> service address (the reply's source)
//   getpeername4/6  a connected UDP socket's peer: endpoint -> service address
//
// A service port without endpoints refuses at once: the hook returns 0 after
// bpf_set_retval(-ECONNREFUSED), so connect() and sendto() fail with ECONNREFUSED.
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define ECONNREFUSED 111
#define AF_INET 2
#define AF_INET6 10

// A frontend: service address, port (network order), IP protocol.
struct svc_key4 {
	__u32 addr;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct svc_key6 {
	__u32 addr[4];
	__u16 port;
	__u8 proto;
	__u8 pad;
};

// The service port behind a frontend: its endpoint set `id` with `count` slots
// (0: refuse), and the ClientIP affinity timeout in seconds (0: none).
struct svc_val {
	__u32 id;
	__u32 count;
	__u32 affinity_timeout;
};

struct be_key {
	__u32 id;
	__u32 slot;
};

// An endpoint: address (IPv4 in addr[0]), port (network order).
struct be_val {
	__u32 addr[4];
	__u16 port;
	__u16 pad;
};

// ClientIP affinity: the client is the socket's network namespace (a pod, or the host).
struct aff_key {
	__u64 netns;
	__u32 id;
	__u32 pad;
};

struct aff_val {
	__u64 last_ns;
	__u32 slot;
	__u32 pad;
	struct be_val be;
};

// Reverse translation for UDP: (socket, endpoint) -> service address.
struct rev_key {
	__u64 cookie;
	__u32 addr[4];
	__u16 port;
	__u16 family;
	__u32 pad;
};

struct rev_val {
	__u32 addr[4];
	__u16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct svc_key4);
	__type(value, struct svc_val);
} kpng_svc4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 262144);
	__type(key, struct svc_key6);
	__type(value, struct svc_val);
} kpng_svc6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1048576);
	__type(key, struct be_key);
	__type(value, struct be_val);
} kpng_be SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct aff_key);
	__type(value, struct aff_val);
} kpng_aff SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct rev_key);
	__type(value, struct rev_val);
} kpng_rev SEC(".maps");

static __always_inline int same_be(const struct be_val *a, const struct be_val *b)
{
	return a->port == b->port && a->addr[0] == b->addr[0] && a->addr[1] == b->addr[1] &&
	       a->addr[2] == b->addr[2] && a->addr[3] == b->addr[3];
}

// The endpoint for one new socket of service port `s`: the client's affine one while it
// is still in the set and its timeout has not passed, else one at random.
static __always_inline struct be_val *pick(struct bpf_sock_addr *ctx, const struct svc_val *s)
{
	struct be_key bk = { .id = s->id };
	struct be_val *be;
	__u32 count = s->count;

	if (count == 0)
		return 0;
	if (s->affinity_timeout == 0) {
		bk.slot = bpf_get_prandom_u32() % count;
		return bpf_map_lookup_elem(&kpng_be, &bk);
	}
	struct aff_key ak = { .netns = bpf_get_netns_cookie(ctx), .id = s->id };
	__u64 now = bpf_ktime_get_ns();
	struct aff_val *a = bpf_map_lookup_elem(&kpng_aff, &ak);
	if (a && now - a->last_ns <= (__u64)s->affinity_timeout * 1000000000ULL && a->slot < count) {
		bk.slot = a->slot;
		be = bpf_map_lookup_elem(&kpng_be, &bk);
		if (be && same_be(be, &a->be)) {
			a->last_ns = now;
			return be;
		}
	}
	bk.slot = bpf_get_prandom_u32() % count;
	be = bpf_map_lookup_elem(&kpng_be, &bk);
	if (!be)
		return 0;
	struct aff_val nv = { .last_ns = now, .slot = bk.slot, .be = *be };
	bpf_map_update_elem(&kpng_aff, &ak, &nv, BPF_ANY);
	return be;
}

static __always_inline void remember(struct bpf_sock_addr *ctx, const struct be_val *be, __u16 family,
				     const __u32 vip[4], __u16 vport)
{
	struct rev_key rk = { .cookie = bpf_get_socket_cookie(ctx), .port = be->port, .family = family };
	struct rev_val rv = { .port = vport };
	rk.addr[0] = be->addr[0];
	rk.addr[1] = be->addr[1];
	rk.addr[2] = be->addr[2];
	rk.addr[3] = be->addr[3];
	rv.addr[0] = vip[0];
	rv.addr[1] = vip[1];
	rv.addr[2] = vip[2];
	rv.addr[3] = vip[3];
	bpf_map_update_elem(&kpng_rev, &rk, &rv, BPF_ANY);
}

static __always_inline int lb4(struct bpf_sock_addr *ctx)
{
	struct svc_key4 k = { .addr = ctx->user_ip4, .port = (__u16)ctx->user_port, .proto = (__u8)ctx->protocol };
	struct svc_val *s = bpf_map_lookup_elem(&kpng_svc4, &k);
	if (!s)
		return 1;
	if (s->count == 0) {
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	struct be_val *be = pick(ctx, s);
	if (!be)
		return 1;
	if (k.proto == IPPROTO_UDP) {
		__u32 vip[4] = { k.addr, 0, 0, 0 };
		remember(ctx, be, AF_INET, vip, k.port);
	}
	ctx->user_ip4 = be->addr[0];
	ctx->user_port = (__u32)be->port;
	return 1;
}

static __always_inline int lb6(struct bpf_sock_addr *ctx)
{
	struct svc_key6 k = { .port = (__u16)ctx->user_port, .proto = (__u8)ctx->protocol };
	k.addr[0] = ctx->user_ip6[0];
	k.addr[1] = ctx->user_ip6[1];
	k.addr[2] = ctx->user_ip6[2];
	k.addr[3] = ctx->user_ip6[3];
	struct svc_val *s = bpf_map_lookup_elem(&kpng_svc6, &k);
	if (!s)
		return 1;
	if (s->count == 0) {
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}
	struct be_val *be = pick(ctx, s);
	if (!be)
		return 1;
	if (k.proto == IPPROTO_UDP)
		remember(ctx, be, AF_INET6, k.addr, k.port);
	ctx->user_ip6[0] = be->addr[0];
	ctx->user_ip6[1] = be->addr[1];
	ctx->user_ip6[2] = be->addr[2];
	ctx->user_ip6[3] = be->addr[3];
	ctx->user_port = (__u32)be->port;
	return 1;
}

static __always_inline int rev4(struct bpf_sock_addr *ctx)
{
	struct rev_key rk = { .cookie = bpf_get_socket_cookie(ctx), .port = (__u16)ctx->user_port, .family = AF_INET };
	rk.addr[0] = ctx->user_ip4;
	struct rev_val *rv = bpf_map_lookup_elem(&kpng_rev, &rk);
	if (rv) {
		ctx->user_ip4 = rv->addr[0];
		ctx->user_port = (__u32)rv->port;
	}
	return 1;
}

static __always_inline int rev6(struct bpf_sock_addr *ctx)
{
	struct rev_key rk = { .cookie = bpf_get_socket_cookie(ctx), .port = (__u16)ctx->user_port, .family = AF_INET6 };
	rk.addr[0] = ctx->user_ip6[0];
	rk.addr[1] = ctx->user_ip6[1];
	rk.addr[2] = ctx->user_ip6[2];
	rk.addr[3] = ctx->user_ip6[3];
	struct rev_val *rv = bpf_map_lookup_elem(&kpng_rev, &rk);
	if (rv) {
		ctx->user_ip6[0] = rv->addr[0];
		ctx->user_ip6[1] = rv->addr[1];
		ctx->user_ip6[2] = rv->addr[2];
		ctx->user_ip6[3] = rv->addr[3];
		ctx->user_port = (__u32)rv->port;
	}
	return 1;
}

SEC("cgroup/connect4")
int kpng_connect4(struct bpf_sock_addr *ctx) { return lb4(ctx); }

SEC("cgroup/sendmsg4")
int kpng_sendmsg4(struct bpf_sock_addr *ctx) { return lb4(ctx); }

SEC("cgroup/recvmsg4")
int kpng_recvmsg4(struct bpf_sock_addr *ctx) { return rev4(ctx); }

SEC("cgroup/getpeername4")
int kpng_getpeername4(struct bpf_sock_addr *ctx) { return rev4(ctx); }

SEC("cgroup/connect6")
int kpng_connect6(struct bpf_sock_addr *ctx) { return lb6(ctx); }

SEC("cgroup/sendmsg6")
int kpng_sendmsg6(struct bpf_sock_addr *ctx) { return lb6(ctx); }

SEC("cgroup/recvmsg6")
int kpng_recvmsg6(struct bpf_sock_addr *ctx) { return rev6(ctx); }

SEC("cgroup/getpeername6")
int kpng_getpeername6(struct bpf_sock_addr *ctx) { return rev6(ctx); }
