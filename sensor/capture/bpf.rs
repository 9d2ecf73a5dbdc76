//! A compiled BPF program applied to a record in memory, as libpcap applies it to a record it
//! reads itself: with the record's captured length *and* its original length, so `len`,
//! `greater` and `less` see the length on the wire even when the capture cut the frame.
//!
//! The `pcap` crate's `BpfProgram::filter` passes the captured length for both; this module
//! calls libpcap's `pcap_offline_filter` with a real header instead. The only FFI of the crate
//! outside the privilege drop; every block says why it is sound.
#![allow(unsafe_code)]

use std::os::raw::{c_int, c_uint};

/// libpcap's `struct bpf_program`.
#[repr(C)]
struct Program {
    bf_len: c_uint,
    bf_insns: *const ::pcap::BpfInstruction,
}

/// libpcap's `struct pcap_pkthdr`.
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

extern "C" {
    fn pcap_offline_filter(prog: *const Program, h: *const PktHdr, pkt: *const u8) -> c_int;
}

/// Whether `program` accepts the record `data` whose length on the wire was `wire_len`.
pub fn matches(program: &::pcap::BpfProgram, data: &[u8], wire_len: u32) -> bool {
    let insns = program.get_instructions();
    let (Ok(bf_len), Ok(caplen)) = (c_uint::try_from(insns.len()), u32::try_from(data.len()))
    else {
        return false;
    };
    let prog = Program {
        bf_len,
        bf_insns: insns.as_ptr(),
    };
    let hdr = PktHdr {
        ts: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        caplen,
        len: wire_len.max(caplen),
    };
    // SAFETY: `prog` points at `insns`, borrowed from `program` for the whole call;
    // `BpfInstruction` is `repr(transparent)` over libpcap's `struct bpf_insn`, so the layout
    // is the one libpcap reads. libpcap's interpreter bounds every packet load by `caplen`,
    // which is `data`'s length, so it never reads past `data`.
    unsafe { pcap_offline_filter(&prog, &hdr, data.as_ptr()) != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(expr: &str) -> ::pcap::BpfProgram {
        ::pcap::Capture::dead(::pcap::Linktype(1))
            .unwrap()
            .compile(expr, true)
            .unwrap()
    }

    #[test]
    fn length_tests_see_the_wire_length_of_a_cut_frame() {
        // A 60-byte Ethernet/IPv4 frame cut from a 1500-byte packet (snaplen 60).
        let mut frame = vec![0u8; 60];
        frame[12] = 0x08; // EtherType IPv4
        frame[14] = 0x45;
        let greater = compile("greater 1000");
        assert!(matches(&greater, &frame, 1500));
        assert!(!matches(&greater, &frame, 60));
        let less = compile("less 100");
        assert!(!matches(&less, &frame, 1500));
        assert!(matches(&less, &frame, 60));
        // Content tests still look at the bytes: IPv4, not IPv6.
        assert!(matches(&compile("ip"), &frame, 1500));
        assert!(!matches(&compile("ip6"), &frame, 1500));
    }
}
