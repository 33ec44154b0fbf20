// run_on: runs `f` on the thread that runs `io` and waits for its result, so a test thread
// can read state that only the server's own thread may touch.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>

namespace meridian::node::testing {

template <class F>
auto run_on(boost::asio::io_context& io, F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return result.get();
}

}  // namespace meridian::node::testing
