// bench/ns3_udp_echo.cc - the peer of `dgram_bench --backend sim`: the
// same UDP echo exchange (N echoes of SIZE bytes, WINDOW datagrams in
// flight, a client refilling its window from each echo) simulated by
// ns-3 between two nodes on a point-to-point link.
//
//   ns3_udp_echo [--datagrams N] [--size BYTES] [--window W]
//
// Prints one JSON object like dgram_bench's: wall seconds of the run,
// datagrams moved per wall second (each echo is two), virtual seconds.
//
// What each side models. ns-3 runs the full stack of both nodes for every
// datagram: a UDP socket and its layer, IPv4 (routing, headers, the ARP-
// free point-to-point path), the traffic-control layer with its queue
// disc, the device's transmit queue, PPP framing and the channel's
// serialisation at the link rate and its propagation delay, then all of
// it again upwards at the receiver. twin's simulator models a datagram,
// not its packets' bytes on a wire: per datagram it draws its fate (loss,
// refusal, duplication, reordering, corruption, a latency from the path's
// distribution), keeps the path's order and both socket buffers' limits,
// records it in the run's trace hash, and delivers it to the receiving
// endpoint's protocol on its node's loop. The link here has twin's default
// world's mean one-way latency (550 us: uniform 100 us to 1 ms) and a rate
// high enough not to be the bottleneck, so both exchanges are paced by
// latency and the window alone.
//
// Built by `make bench` only, when Debian's libns3-dev is installed.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

using namespace ns3;

namespace {

struct Blaster {
    Ptr<Socket> sock;
    uint64_t want = 100000, sent = 0, got = 0;
    uint32_t size = 64, window = 32;
} b;

// Keep the window full, as dgram_bench's client does.
void SendMore()
{
    while (b.sent - b.got < b.window && b.sent < b.want + b.window) {
        b.sent++;
        b.sock->Send(Create<Packet>(b.size));
    }
}

void ClientRecv(Ptr<Socket> s)
{
    Ptr<Packet> p;
    while ((p = s->Recv())) {
        if (p->GetSize() != b.size)
            continue;
        if (++b.got >= b.want) {
            Simulator::Stop();
            return;
        }
        SendMore();
    }
}

// The echo server: every datagram goes back where it came from.
void ServerRecv(Ptr<Socket> s)
{
    Ptr<Packet> p;
    Address from;
    while ((p = s->RecvFrom(from)))
        s->SendTo(p, 0, from);
}

bool ParseArgs(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (std::strcmp(k, "--datagrams") == 0)
            b.want = std::strtoull(v, nullptr, 10);
        else if (std::strcmp(k, "--size") == 0)
            b.size = (uint32_t)std::strtoul(v, nullptr, 10);
        else if (std::strcmp(k, "--window") == 0)
            b.window = (uint32_t)std::strtoul(v, nullptr, 10);
        else
            return false;
    }
    return argc % 2 == 1 && b.want > 0 && b.size > 0 && b.size <= 1472 &&
           b.window > 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (!ParseArgs(argc, argv)) {
        std::fprintf(stderr, "usage: ns3_udp_echo [--datagrams N] "
                             "[--size BYTES (1..1472)] [--window W]\n");
        return 2;
    }
    NodeContainer nodes;
    nodes.Create(2);
    PointToPointHelper link;
    link.SetDeviceAttribute("DataRate", StringValue("100Gbps"));
    link.SetChannelAttribute("Delay", StringValue("550us"));
    NetDeviceContainer devs = link.Install(nodes);
    InternetStackHelper stack;
    stack.Install(nodes);
    Ipv4AddressHelper ips;
    ips.SetBase("10.0.0.0", "255.255.255.0");
    Ipv4InterfaceContainer ifs = ips.Assign(devs);

    TypeId udp = UdpSocketFactory::GetTypeId();
    Ptr<Socket> server = Socket::CreateSocket(nodes.Get(1), udp);
    server->Bind(InetSocketAddress(Ipv4Address::GetAny(), 9999));
    server->SetRecvCallback(MakeCallback(&ServerRecv));
    b.sock = Socket::CreateSocket(nodes.Get(0), udp);
    b.sock->Bind();
    b.sock->Connect(InetSocketAddress(ifs.GetAddress(1), 9999));
    b.sock->SetRecvCallback(MakeCallback(&ClientRecv));

    auto t0 = std::chrono::steady_clock::now();
    Simulator::ScheduleNow(&SendMore);
    Simulator::Run();
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    double secs = took.count();
    double virt = Simulator::Now().GetSeconds();
    Simulator::Destroy();
    if (b.got < b.want) {
        std::fprintf(stderr, "ns3_udp_echo: failed: %llu of %llu echoes came back\n",
                     (unsigned long long)b.got, (unsigned long long)b.want);
        return 1;
    }
    std::printf("{\"backend\": \"ns-3\", \"datagrams\": %llu, \"size\": %u, "
                "\"window\": %u, \"wall_s\": %.6f, \"dgrams_per_s\": %.1f, "
                "\"virtual_s\": %.6f}\n",
                (unsigned long long)b.want, b.size, b.window, secs,
                2.0 * (double)b.want / secs, virt);
    return 0;
}
