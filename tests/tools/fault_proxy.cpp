// meridian-fault-proxy: forwards TCP connections from --listen to --target and injects network
// faults (delay, one- or two-way blackholes, resets, refused connections, tampered peer frames)
// that a test switches at run time over a line protocol on --control. One thread, one io_context;
// see README.md.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "frame_tamper.hpp"

namespace {

using meridian::tools::FrameTamper;
using meridian::tools::TamperOrders;

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// Bytes read but not yet delivered, per direction of a connection. Past this the proxy stops
// reading, so a slow or delayed direction pushes back on the sender instead of growing memory.
constexpr std::size_t max_queued_bytes = 8u << 20;
constexpr std::size_t read_chunk_bytes = 16u << 10;
constexpr std::size_t max_control_line = 4096;
constexpr std::uint64_t max_delay_ms = 3'600'000;

enum class Direction { forward, backward };  // forward: client -> target

struct Faults {
    std::uint64_t delay_ms = 0;
    std::uint64_t jitter_ms = 0;
    bool hold_forward = false;
    bool hold_backward = false;
    bool refuse = false;

    bool held(Direction d) const { return d == Direction::forward ? hold_forward : hold_backward; }
};

class Proxy;

// One client connection and its connection to the target. Each direction is a queue of chunks,
// each due at (time read + delay + jitter) but never before the chunk ahead of it, so order
// holds per direction. A held (blackholed) direction neither reads nor delivers: the bytes wait
// in the kernel buffers and the sender's window fills, which is how a partition looks to TCP.
class Pair : public std::enable_shared_from_this<Pair> {
public:
    Pair(Proxy& proxy, tcp::socket client, std::uint64_t id);

    void connect(const tcp::endpoint& target);
    // Resumes reading and delivery after a fault changed (e.g. a blackhole lifted).
    void kick();
    // abortive: send RST rather than FIN, so both ends see a reset.
    void close(bool abortive, std::string_view why);

private:
    struct Chunk {
        std::vector<char> data;
        Clock::time_point due;
        bool eof = false;  // the source half-closed: shut down the sink's sending side
    };

    struct Pipe {
        Pipe(Direction d, tcp::socket& from, tcp::socket& to, const asio::any_io_executor& ex)
            : direction(d), source(from), sink(to), timer(ex) {}

        Direction direction;
        tcp::socket& source;
        tcp::socket& sink;
        std::array<char, read_chunk_bytes> buffer{};
        std::deque<Chunk> queue;
        std::size_t queued_bytes = 0;
        FrameTamper tamper;
        Clock::time_point last_due{};
        asio::steady_timer timer;
        bool reading = false;
        bool writing = false;
        bool timer_armed = false;
        bool source_eof = false;
        bool done = false;  // the EOF went through
    };

    void pump(Pipe& pipe);
    void maybe_read(Pipe& pipe);
    void maybe_deliver(Pipe& pipe);
    void enqueue(Pipe& pipe, Chunk chunk);

    Proxy& proxy_;
    std::uint64_t id_;
    tcp::socket client_;
    tcp::socket target_;
    Pipe forward_;
    Pipe backward_;
    bool started_ = false;
    bool closed_ = false;
};

class Proxy {
public:
    Proxy(asio::io_context& io, const tcp::endpoint& listen, const tcp::endpoint& target,
          const tcp::endpoint& control, std::uint64_t seed)
        : io_(io),
          acceptor_(io, listen),
          control_acceptor_(io, control),
          retry_timer_(io),
          target_(target),
          random_(seed) {}

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::uint16_t control_port() const { return control_acceptor_.local_endpoint().port(); }

    void start() {
        accept();
        accept_control();
    }

    const Faults& faults() const { return faults_; }
    Clock::duration next_delay() {
        std::uint64_t ms = faults_.delay_ms;
        if (faults_.jitter_ms > 0) {
            ms += std::uniform_int_distribution<std::uint64_t>(0, faults_.jitter_ms)(random_);
        }
        return std::chrono::milliseconds(ms);
    }
    TamperOrders& orders(Direction d) {
        return d == Direction::forward ? forward_orders_ : backward_orders_;
    }
    void count(Direction d, std::size_t n) {
        (d == Direction::forward ? bytes_forward_ : bytes_backward_) += n;
    }
    void forget(const std::shared_ptr<Pair>& pair) { pairs_.erase(pair); }

    // One control line in, one answer line out (without the newline).
    std::string handle(std::string_view line);

private:
    void accept();
    void accept_control();
    void kick_all() {
        // kick() may close a pair, which erases it from pairs_: iterate over a copy.
        auto pairs = pairs_;
        for (const auto& p : pairs) p->kick();
    }
    std::string status() const;
    std::string mode() const;
    std::string tamper(const std::vector<std::string>& words);

    asio::io_context& io_;
    tcp::acceptor acceptor_;
    tcp::acceptor control_acceptor_;
    asio::steady_timer retry_timer_;
    tcp::endpoint target_;
    std::mt19937_64 random_;
    Faults faults_;
    std::set<std::shared_ptr<Pair>> pairs_;
    std::uint64_t next_pair_id_ = 1;
    std::uint64_t bytes_forward_ = 0;
    std::uint64_t bytes_backward_ = 0;
    TamperOrders forward_orders_;
    TamperOrders backward_orders_;
};

// A control connection: reads a line, answers it, then reads the next (one write in flight).
// An over-long line is answered with ERR once and skipped up to its newline.
class ControlSession : public std::enable_shared_from_this<ControlSession> {
public:
    ControlSession(Proxy& proxy, tcp::socket socket) : proxy_(proxy), socket_(std::move(socket)) {}

    void start() { read(); }

private:
    void read() {
        asio::async_read_until(
            socket_, asio::dynamic_buffer(buffer_, max_control_line), '\n',
            [self = shared_from_this()](error_code ec, std::size_t n) {
                if (ec == asio::error::not_found) {
                    self->buffer_.clear();
                    if (self->skipping_) {
                        self->read();
                    } else {
                        self->skipping_ = true;
                        self->reply("ERR line longer than " + std::to_string(max_control_line) +
                                    " bytes");
                    }
                    return;
                }
                if (ec) return;  // EOF or error: the session ends with the last handler
                std::string line = self->buffer_.substr(0, n - 1);
                self->buffer_.erase(0, n);
                if (self->skipping_) {  // the tail of an over-long line
                    self->skipping_ = false;
                    self->read();
                    return;
                }
                self->reply(self->proxy_.handle(line));
            });
    }

    void reply(std::string answer) {
        answer_ = std::move(answer) + "\n";
        asio::async_write(socket_, asio::buffer(answer_),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                              if (!ec) self->read();
                          });
    }

    Proxy& proxy_;
    tcp::socket socket_;
    std::string buffer_;
    std::string answer_;
    bool skipping_ = false;
};

Pair::Pair(Proxy& proxy, tcp::socket client, std::uint64_t id)
    : proxy_(proxy),
      id_(id),
      client_(std::move(client)),
      target_(client_.get_executor()),
      forward_(Direction::forward, client_, target_, client_.get_executor()),
      backward_(Direction::backward, target_, client_, client_.get_executor()) {}

void Pair::connect(const tcp::endpoint& target) {
    target_.async_connect(target, [self = shared_from_this()](error_code ec) {
        if (self->closed_) return;
        if (ec) {
            self->close(true, "target connect failed: " + ec.message());
            return;
        }
        error_code ignored;
        // Without this a small message could sit in Nagle's buffer and look like a delay.
        self->client_.set_option(tcp::no_delay(true), ignored);
        self->target_.set_option(tcp::no_delay(true), ignored);
        self->started_ = true;
        self->kick();
    });
}

void Pair::kick() {
    if (closed_ || !started_) return;
    pump(forward_);
    if (closed_) return;
    pump(backward_);
}

void Pair::pump(Pipe& pipe) {
    maybe_deliver(pipe);
    if (closed_) return;
    maybe_read(pipe);
}

void Pair::maybe_read(Pipe& pipe) {
    if (closed_ || pipe.reading || pipe.source_eof || proxy_.faults().held(pipe.direction) ||
        pipe.queued_bytes >= max_queued_bytes) {
        return;
    }
    pipe.reading = true;
    pipe.source.async_read_some(asio::buffer(pipe.buffer), [self = shared_from_this(), &pipe](
                                                               error_code ec, std::size_t n) {
        pipe.reading = false;
        if (self->closed_) return;
        if (ec == asio::error::eof) {
            pipe.source_eof = true;
            self->enqueue(pipe, Chunk{{}, {}, true});
        } else if (ec) {
            self->close(true, "read failed: " + ec.message());
            return;
        } else {
            Chunk chunk;
            pipe.tamper.pass(std::string_view(pipe.buffer.data(), n),
                             self->proxy_.orders(pipe.direction), chunk.data);
            self->enqueue(pipe, std::move(chunk));
        }
        self->pump(pipe);
    });
}

void Pair::enqueue(Pipe& pipe, Chunk chunk) {
    chunk.due = std::max(Clock::now() + proxy_.next_delay(), pipe.last_due);
    pipe.last_due = chunk.due;
    pipe.queued_bytes += chunk.data.size();
    pipe.queue.push_back(std::move(chunk));
}

void Pair::maybe_deliver(Pipe& pipe) {
    if (closed_ || pipe.writing || pipe.queue.empty() || proxy_.faults().held(pipe.direction)) {
        return;
    }
    Chunk& front = pipe.queue.front();
    if (front.due > Clock::now()) {
        if (pipe.timer_armed) return;
        pipe.timer_armed = true;
        pipe.timer.expires_at(front.due);
        pipe.timer.async_wait([self = shared_from_this(), &pipe](error_code) {
            pipe.timer_armed = false;
            if (!self->closed_) self->pump(pipe);
        });
        return;
    }
    if (front.eof) {
        pipe.queue.pop_front();
        pipe.done = true;
        error_code ignored;
        pipe.sink.shutdown(tcp::socket::shutdown_send, ignored);
        if (forward_.done && backward_.done) close(false, "both sides closed");
        return;
    }
    pipe.writing = true;
    asio::async_write(pipe.sink, asio::buffer(front.data),
                      [self = shared_from_this(), &pipe](error_code ec, std::size_t n) {
                          pipe.writing = false;
                          if (self->closed_) return;
                          if (ec) {
                              self->close(true, "write failed: " + ec.message());
                              return;
                          }
                          self->proxy_.count(pipe.direction, n);
                          pipe.queued_bytes -= pipe.queue.front().data.size();
                          pipe.queue.pop_front();
                          self->pump(pipe);
                      });
}

void Pair::close(bool abortive, std::string_view why) {
    if (closed_) return;
    closed_ = true;
    std::cerr << "connection " << id_ << " closed: " << why << "\n";
    for (tcp::socket* s : {&client_, &target_}) {
        error_code ignored;
        if (abortive && s->is_open()) s->set_option(asio::socket_base::linger(true, 0), ignored);
        s->close(ignored);
    }
    forward_.timer.cancel();
    backward_.timer.cancel();
    proxy_.forget(shared_from_this());
}

void Proxy::accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
            // Typically out of file descriptors: back off instead of spinning on the error.
            std::cerr << "accept failed: " << ec.message() << "\n";
            retry_timer_.expires_after(std::chrono::milliseconds(100));
            retry_timer_.async_wait([this](error_code e) {
                if (!e) accept();
            });
            return;
        }
        if (faults_.refuse) {
            error_code ignored;
            socket.set_option(asio::socket_base::linger(true, 0), ignored);
            socket.close(ignored);
        } else {
            auto pair = std::make_shared<Pair>(*this, std::move(socket), next_pair_id_++);
            pairs_.insert(pair);
            pair->connect(target_);
        }
        accept();
    });
}

void Proxy::accept_control() {
    control_acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) std::make_shared<ControlSession>(*this, std::move(socket))->start();
        accept_control();
    });
}

std::vector<std::string> split_words(std::string_view line) {
    std::vector<std::string> words;
    std::string word;
    for (char c : line) {
        if (std::isspace(static_cast<unsigned char>(c))) {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        } else {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

std::optional<std::uint64_t> parse_ms(const std::string& word) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (ec != std::errc() || end != word.data() + word.size() || value > max_delay_ms) {
        return std::nullopt;
    }
    return value;
}

std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
        out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
    }
    return out;
}

std::string Proxy::mode() const {
    if (faults_.hold_forward && faults_.hold_backward) return "blackhole-both";
    if (faults_.hold_forward) return "blackhole-forward";
    if (faults_.hold_backward) return "blackhole-backward";
    return "pass";
}

std::string Proxy::status() const {
    std::ostringstream out;
    out << "OK connections=" << pairs_.size() << " bytes_forward=" << bytes_forward_
        << " bytes_backward=" << bytes_backward_ << " mode=" << mode()
        << " delay_ms=" << faults_.delay_ms << " jitter_ms=" << faults_.jitter_ms
        << " refuse=" << (faults_.refuse ? "on" : "off")
        << " tampered=" << forward_orders_.done + backward_orders_.done;
    return out.str();
}

std::string Proxy::handle(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto words = split_words(line);
    if (words.empty()) return "ERR empty command (try help)";
    const std::string& cmd = words[0];
    std::cerr << "control: " << printable(line) << "\n";

    if (cmd == "help")
        return "OK commands: delay <ms> [jitter_ms] | blackhole both|forward|"
               "backward|off | reset | refuse on|off | tamper flip|capture forward|backward | "
               "tamper inject forward|backward <hex> | status";
    if (cmd == "tamper") return tamper(words);
    if (cmd == "status") {
        if (words.size() != 1) return "ERR usage: status";
        return status();
    }
    if (cmd == "delay") {
        if (words.size() < 2 || words.size() > 3) return "ERR usage: delay <ms> [jitter_ms]";
        auto delay = parse_ms(words[1]);
        auto jitter = words.size() == 3 ? parse_ms(words[2]) : std::optional<std::uint64_t>(0);
        if (!delay || !jitter) {
            return "ERR delay and jitter are whole milliseconds from 0 to " +
                   std::to_string(max_delay_ms);
        }
        faults_.delay_ms = *delay;
        faults_.jitter_ms = *jitter;
        return "OK delay_ms=" + std::to_string(*delay) + " jitter_ms=" + std::to_string(*jitter);
    }
    if (cmd == "blackhole") {
        if (words.size() != 2) return "ERR usage: blackhole both|forward|backward|off";
        const std::string& how = words[1];
        if (how == "both") {
            faults_.hold_forward = faults_.hold_backward = true;
        } else if (how == "forward") {
            faults_.hold_forward = true;
            faults_.hold_backward = false;
        } else if (how == "backward") {
            faults_.hold_forward = false;
            faults_.hold_backward = true;
        } else if (how == "off") {
            faults_.hold_forward = faults_.hold_backward = false;
        } else {
            return "ERR usage: blackhole both|forward|backward|off";
        }
        kick_all();  // a lifted direction delivers what it held and reads again
        return "OK mode=" + mode();
    }
    if (cmd == "reset") {
        if (words.size() != 1) return "ERR usage: reset";
        auto pairs = pairs_;
        for (const auto& p : pairs) p->close(true, "reset by control");
        return "OK reset=" + std::to_string(pairs.size());
    }
    if (cmd == "refuse") {
        if (words.size() != 2 || (words[1] != "on" && words[1] != "off")) {
            return "ERR usage: refuse on|off";
        }
        faults_.refuse = words[1] == "on";
        return "OK refuse=" + words[1];
    }
    return "ERR unknown command '" + printable(cmd) + "' (try help)";
}

std::string to_hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view text) {
    if (text.empty() || text.size() % 2 != 0) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 2) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
        if (ec != std::errc() || end != text.data() + i + 2) return std::nullopt;
        out.push_back(static_cast<char>(value));
    }
    return out;
}

// Orders against the peer frames of established links (frame_tamper.hpp): flip a byte of the
// next frame, capture the latest small frame (to replay it, or splice it into another link
// through another proxy), inject a frame at the next boundary.
std::string Proxy::tamper(const std::vector<std::string>& words) {
    const std::string usage =
        "ERR usage: tamper flip|capture forward|backward, or tamper inject forward|backward <hex>";
    if (words.size() < 3 || (words[2] != "forward" && words[2] != "backward")) return usage;
    TamperOrders& orders =
        this->orders(words[2] == "forward" ? Direction::forward : Direction::backward);
    if (words[1] == "flip" && words.size() == 3) {
        ++orders.flips;
        return "OK tamper=flip direction=" + words[2];
    }
    if (words[1] == "capture" && words.size() == 3) {
        if (orders.last_frame.empty()) return "ERR no frame past the handshake seen " + words[2];
        return "OK frame=" + to_hex(orders.last_frame);
    }
    if (words[1] == "inject" && words.size() == 4) {
        auto frame = from_hex(words[3]);
        if (!frame) return "ERR the frame must be an even number of hex digits";
        orders.inserts.push_back(std::move(*frame));
        return "OK tamper=inject direction=" + words[2] +
               " bytes=" + std::to_string(orders.inserts.back().size());
    }
    return usage;
}

// "host:port" or "[v6]:port" -> an endpoint; the host may be a name (resolved once, here).
tcp::endpoint parse_endpoint(asio::io_context& io, const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::runtime_error("expected host:port, got " + text);
    std::string host = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, port, tcp::resolver::numeric_service);
    if (results.empty()) throw std::runtime_error("cannot resolve " + text);
    return *results.begin();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"meridian-fault-proxy: a TCP proxy with faults switched at run time"};
    std::string listen = "127.0.0.1:0";
    std::string target;
    std::string control = "127.0.0.1:0";
    std::uint64_t seed = std::random_device{}();
    app.add_option("--listen", listen, "host:port to accept clients on (port 0: any)");
    app.add_option("--target", target, "host:port to forward to")->required();
    app.add_option("--control", control, "host:port for control commands (port 0: any)");
    app.add_option("--seed", seed, "seed for the delay jitter");
    CLI11_PARSE(app, argc, argv);

    std::signal(SIGPIPE, SIG_IGN);
    try {
        asio::io_context io;
        Proxy proxy(io, parse_endpoint(io, listen), parse_endpoint(io, target),
                    parse_endpoint(io, control), seed);
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&io](error_code, int) { io.stop(); });
        proxy.start();
        std::cout << "listening " << proxy.port() << " control " << proxy.control_port()
                  << std::endl;
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "meridian-fault-proxy: " << e.what() << "\n";
        return 2;
    }
    return 0;
}
