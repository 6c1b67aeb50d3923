// SPDX-License-Identifier: Apache-2.0
/*
 * Switchboard's media path in the kernel: a traffic-control program on the ingress of the
 * loopback and Ethernet interfaces. An RTP datagram arriving at the socket of a line
 * whose conversation the relay has put in the `lines` table (see
 * crates/voice/src/kernel.rs) is rewritten into the other party's stream, from the other
 * line's socket, and delivered to the other party, on this host or elsewhere, without
 * waking Switchboard. Anything else (another payload type or stream, a
 * stranger's packet, any other traffic) goes on as if the program were not there.
 *
 * A recorded conversation's audio is also copied, before it is passed on, into the ring
 * buffer of the relay thread that carries the conversation, which writes it into the
 * recording in batches.
 *
 * Built by crates/voice/build.rs with clang; only the kernel's UAPI headers are needed.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value,
				   __u64 flags) = (void *)BPF_FUNC_map_update_elem;
static long (*bpf_redirect_neigh)(__u32 ifindex, void *params, int plen,
				  __u64 flags) = (void *)BPF_FUNC_redirect_neigh;
static long (*bpf_l3_csum_replace)(struct __sk_buff *skb, __u32 offset, __u64 from, __u64 to,
				   __u64 size) = (void *)BPF_FUNC_l3_csum_replace;
static long (*bpf_l4_csum_replace)(struct __sk_buff *skb, __u32 offset, __u64 from, __u64 to,
				   __u64 flags) = (void *)BPF_FUNC_l4_csum_replace;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to,
				  __u32 len) = (void *)BPF_FUNC_skb_load_bytes;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static long (*bpf_ringbuf_output)(void *ringbuf, void *data, __u64 size,
				  __u64 flags) = (void *)BPF_FUNC_ringbuf_output;
static __u64 (*bpf_ringbuf_query)(void *ringbuf, __u64 flags) = (void *)BPF_FUNC_ringbuf_query;

#define htons(x) __builtin_bswap16(x)
#define htonl(x) __builtin_bswap32(x)

/* A line's socket: its address and port, in network order. */
struct key {
	__u32 addr;
	__u16 port;
	__u16 pad;
};

/* Where a party's audio goes. Set by the relay. */
struct target {
	__u32 peer;        /* the party's address: packets from anyone else go up */
	__u32 in_ssrc;     /* the party's stream, network order */
	__u32 saddr;       /* the other line's socket ... */
	__u32 daddr;       /* ... and the other party, network order */
	__u16 sport;
	__u16 dport;
	__u32 ssrc;        /* the other line's stream, network order */
	__u32 ts_delta;    /* added to the party's timestamps */
	__u16 seq_delta;   /* added to the party's sequence numbers */
	__u8 payload_type; /* the only one passed here (0xff: none) */
	__u8 ring;         /* recorded: the ring buffer the audio is copied to (0xff: none) */
	__u32 loopback;    /* the loopback interface's index */
	__u32 tag;         /* recorded: the direction, for the relay thread */
};

/* How far a target has carried its direction. Set by the relay when it writes the target
 * (the start), then by this program only: the relay takes a target out of `lines` first
 * and reads this after, so that what the program passes on while it does so is counted
 * here and not lost to a write of the relay's. */
struct carried {
	__u64 packets;     /* passed on here */
	__u64 octets;      /* their payload */
	__u16 max_seq;     /* the party's highest sequence number passed on (host order), */
	__u16 max_len;     /* that packet's payload length */
	__u32 max_ts;      /* and its timestamp (host order) */
};

_Static_assert(sizeof(struct key) == 8, "kernel.rs reads a key of 8 bytes");
_Static_assert(sizeof(struct target) == 40, "kernel.rs lays a target out in 40 bytes");
_Static_assert(sizeof(struct carried) == 24, "kernel.rs reads a carried count of 24 bytes");

/* Lines' routes, and their counts: one count for every route, so the same size. */
#define LINE_TABLE(name, value_type)                 \
	struct {                                     \
		__uint(type, BPF_MAP_TYPE_HASH);     \
		__uint(max_entries, 65536);          \
		__type(key, struct key);             \
		__type(value, value_type);           \
	} name SEC(".maps")

LINE_TABLE(lines, struct target);
LINE_TABLE(carried, struct carried);

/*
 * The interface each party's packets last came in on (by the party's address), learned
 * from the packets this program passes on: the other direction's packets go out there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} peers SEC(".maps");

/*
 * One ring buffer per relay thread (the thread that carries a recorded conversation
 * drains its ring), sized by the loader: rings no thread uses keep the smallest size.
 */
#define RING(n)                                          \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_RINGBUF);      \
		__uint(max_entries, 4096);               \
	} ring##n SEC(".maps");
RING(0) RING(1) RING(2) RING(3) RING(4) RING(5) RING(6) RING(7)
RING(8) RING(9) RING(10) RING(11) RING(12) RING(13) RING(14) RING(15)

/* The most audio one packet may carry to be recorded here (60 ms of G.711), and the room
 * for it (a power of two: the length is masked with it below, for the verifier). */
#define MAX_PAYLOAD 480
#define PAYLOAD_ROOM 512

/* A recorded packet's audio, as the relay thread reads it from the ring. */
struct sample {
	__u64 time;      /* when it arrived (CLOCK_MONOTONIC, ns) */
	__u32 tag;       /* the direction (the route's tag) */
	__u32 ssrc;      /* the party's stream, */
	__u32 timestamp; /* and the packet's timestamp (host order) */
	__u16 len;       /* the payload's length */
	__u16 pad;
	__u8 payload[PAYLOAD_ROOM];
};

_Static_assert(__builtin_offsetof(struct sample, payload) == 24,
	       "kernel.rs reads a sample's header as 24 bytes");

/* Where a sample is put together (too big for the program's stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample);
} scratch SEC(".maps");

/*
 * Copies `size` bytes of `data` into ring `ring`. The thread is not woken for each
 * sample (it drains its ring on its own clock), only when the ring is a quarter full.
 */
#define OUTPUT(n)                                                                   \
	case n: {                                                                   \
		__u64 wake = bpf_ringbuf_query(&ring##n, BPF_RB_AVAIL_DATA) >       \
					     bpf_ringbuf_query(&ring##n, BPF_RB_RING_SIZE) / 4 \
				     ? BPF_RB_FORCE_WAKEUP                          \
				     : BPF_RB_NO_WAKEUP;                            \
		return bpf_ringbuf_output(&ring##n, data, size, wake);              \
	}

static __attribute__((always_inline)) long output(__u8 ring, void *data, __u64 size)
{
	switch (ring) {
		OUTPUT(0) OUTPUT(1) OUTPUT(2) OUTPUT(3) OUTPUT(4) OUTPUT(5) OUTPUT(6) OUTPUT(7)
		OUTPUT(8) OUTPUT(9) OUTPUT(10) OUTPUT(11) OUTPUT(12) OUTPUT(13) OUTPUT(14) OUTPUT(15)
	}
	return -1;
}

#define NO_RING 0xff

#define IP_OFF ETH_HLEN
#define UDP_OFF (IP_OFF + sizeof(struct iphdr))
#define RTP_OFF (UDP_OFF + sizeof(struct udphdr))
#define IP_CSUM (IP_OFF + __builtin_offsetof(struct iphdr, check))
#define UDP_CSUM (UDP_OFF + __builtin_offsetof(struct udphdr, check))
#define RTP_HEADER 12
/* Not this program's packet: the next program, or the stack (TCX_NEXT). */
#define NEXT TC_ACT_UNSPEC

SEC("classifier")
int relay(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + IP_OFF;
	struct udphdr *udp = data + UDP_OFF;
	__u8 *rtp = data + RTP_OFF;

	if (data + RTP_OFF + RTP_HEADER > end)
		return NEXT;
	if (eth->h_proto != htons(ETH_P_IP) || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return NEXT;
	/* Fragments (offset or more-fragments set) are the stack's to reassemble. */
	if (ip->frag_off & htons(0x3fff))
		return NEXT;
	struct key k = { .addr = ip->daddr, .port = udp->dest, .pad = 0 };
	struct target *t = bpf_map_lookup_elem(&lines, &k);
	if (!t)
		return NEXT;
	struct carried *c = bpf_map_lookup_elem(&carried, &k);
	if (!c)
		return NEXT;
	/* Version 2 without padding, extension or CSRCs: the plain audio the relay passes. */
	if (rtp[0] != 0x80 || (rtp[1] & 0x7f) != t->payload_type || ip->saddr != t->peer ||
	    *(__u32 *)(rtp + 8) != t->in_ssrc)
		return NEXT;

	__u32 old_saddr = ip->saddr, old_daddr = ip->daddr, old_ssrc = t->in_ssrc;
	__u16 old_sport = udp->source, old_dport = udp->dest;
	__u16 old_seq = *(__u16 *)(rtp + 2);
	__u32 old_ts = *(__u32 *)(rtp + 4);
	__u16 in_seq = htons(old_seq);
	__u32 in_ts = htonl(old_ts);
	__u16 seq = htons((__u16)(in_seq + t->seq_delta));
	__u32 ts = htonl(in_ts + t->ts_delta);
	__u32 saddr = t->saddr, daddr = t->daddr, ssrc = t->ssrc;
	__u16 sport = t->sport, dport = t->dport;
	__u32 loopback = t->loopback;
	__u16 len = (__u16)(end - (void *)(rtp + RTP_HEADER));
	/* The party is reached where its packets come in. The other party's packets have
	 * not come through here yet (their direction is not in the kernel yet): this one goes
	 * up to the thread. */
	__u32 in = skb->ifindex;
	__u32 *seen = bpf_map_lookup_elem(&peers, &old_saddr);
	if (!seen || *seen != in)
		bpf_map_update_elem(&peers, &old_saddr, &in, BPF_ANY);
	__u32 *out = bpf_map_lookup_elem(&peers, &daddr);
	if (!out)
		return NEXT;
	__u32 egress = *out;
	/* From elsewhere to a party on this host: the stack takes a packet to this host's
	 * loopback addresses only from its own sockets, so it is the relay thread's (which
	 * does not hand such a direction to the kernel). */
	if (egress == loopback && in != loopback)
		return NEXT;
	/* A packet behind the highest passed on (late, or repeated) is the relay thread's,
	 * whose reorder buffer drops it: nothing is passed on out of order. */
	if ((__s16)(in_seq - c->max_seq) <= 0)
		return NEXT;
	/* A recorded conversation's audio goes to its relay thread's ring first; if it cannot
	 * (too long, or the ring is full), the packet goes up to the thread, which records it
	 * and passes it on itself. */
	__u8 ring = t->ring;
	if (ring != NO_RING) {
		__u32 zero = 0;
		struct sample *sample = bpf_map_lookup_elem(&scratch, &zero);
		if (!sample || len == 0 || len > MAX_PAYLOAD)
			return NEXT;
		sample->time = bpf_ktime_get_ns();
		sample->tag = t->tag;
		sample->ssrc = htonl(old_ssrc);
		sample->timestamp = in_ts;
		sample->len = len;
		if (bpf_skb_load_bytes(skb, RTP_OFF + RTP_HEADER, sample->payload, len) < 0)
			return NEXT;
		/* (len is at most MAX_PAYLOAD already; the mask shows the verifier as much where
		 * the compiler has let the check's bounds go.) */
		__u64 size = __builtin_offsetof(struct sample, payload) + (len & (PAYLOAD_ROOM - 1));
		if (output(ring, sample, size) < 0)
			return NEXT;
	}

	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->octets, len);
	c->max_seq = in_seq;
	c->max_len = len;
	c->max_ts = in_ts;

	ip->saddr = saddr;
	ip->daddr = daddr;
	udp->source = sport;
	udp->dest = dport;
	*(__u16 *)(rtp + 2) = seq;
	*(__u32 *)(rtp + 4) = ts;
	*(__u32 *)(rtp + 8) = ssrc;
	/* A new packet of Switchboard's, as if sent from the other line's socket. */
	__u16 old_ttl = *(__u16 *)&ip->ttl;
	ip->ttl = 64;
	__u16 ttl = *(__u16 *)&ip->ttl;
	/* The pointers above are not used after the first helper, which may move the data. */
	bpf_l3_csum_replace(skb, IP_CSUM, old_ttl, ttl, 2);
	bpf_l3_csum_replace(skb, IP_CSUM, old_saddr, saddr, 4);
	bpf_l3_csum_replace(skb, IP_CSUM, old_daddr, daddr, 4);
	__u64 pseudo = BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0;
	bpf_l4_csum_replace(skb, UDP_CSUM, old_saddr, saddr, pseudo | 4);
	bpf_l4_csum_replace(skb, UDP_CSUM, old_daddr, daddr, pseudo | 4);
	bpf_l4_csum_replace(skb, UDP_CSUM, old_sport, sport, BPF_F_MARK_MANGLED_0 | 2);
	bpf_l4_csum_replace(skb, UDP_CSUM, old_dport, dport, BPF_F_MARK_MANGLED_0 | 2);
	bpf_l4_csum_replace(skb, UDP_CSUM, old_seq, seq, BPF_F_MARK_MANGLED_0 | 2);
	bpf_l4_csum_replace(skb, UDP_CSUM, old_ts, ts, BPF_F_MARK_MANGLED_0 | 4);
	bpf_l4_csum_replace(skb, UDP_CSUM, old_ssrc, ssrc, BPF_F_MARK_MANGLED_0 | 4);
	if (egress != loopback)
		/* Out of the other party's interface, to its address or its gateway's. */
		return bpf_redirect_neigh(egress, 0, 0, 0);
	/* Both parties on this host: the rewritten packet goes on up the stack in this same
	 * pass, straight to the other party's socket. Sent out again instead, it would go
	 * through the interface's receive queue and this program a second time, which costs
	 * as much again as everything above. */
	return TC_ACT_OK;
}

/* No helper used here is reserved to GPL programs. */
char LICENSE[] SEC("license") = "Apache-2.0";
