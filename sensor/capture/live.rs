//! Live capture from a network interface through libpcap (TPACKET_V3, BPF, kernel buffer).
