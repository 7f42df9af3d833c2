//! pcap / pcapng file reader: being written.
