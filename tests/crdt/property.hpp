// Runs a RapidCheck property inside the current Catch2 test case with at least
// `property_cases` generated cases. Single-threaded, test code only.
//
// rc::prop takes its case count from RC_PARAMS (default 100), so the count is
// passed in code: the global configuration's TestParams (seed, max_size, ...)
// with max_success raised, handed to rc::detail::checkTestable. A larger
// max_success in RC_PARAMS still wins, and RC_PARAMS="reproduce=..." replays a
// failure, because the property's id is the test case's name.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>

namespace meridian::test {

inline constexpr int property_cases = 1000;

template <class Testable>
void check_property(Testable&& testable, int cases = property_cases) {
    const std::string name = Catch::getResultCapture().getCurrentTestName();
    rc::detail::TestParams params = rc::detail::configuration().testParams;
    params.maxSuccess = std::max(params.maxSuccess, cases);
    rc::detail::TestMetadata metadata;
    metadata.id = name;
    metadata.description = name;

    const auto result =
        rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);

    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    // Properties that classify their cases (RC_TAG, RC_CLASSIFY) show how
    // the cases were spread, as rc::prop does.
    rc::detail::SuccessResult success;
    if (result.match(success) && !success.distribution.empty())
        std::cout << "- " << name << "\n" << message.str() << std::endl;
    INFO(message.str() << "\n(seed " << params.seed
                       << "; the reproduce string is printed at exit)");
    REQUIRE(result.template is<rc::detail::SuccessResult>());
    REQUIRE(result.template get<rc::detail::SuccessResult>().numSuccess >= cases);
}

}  // namespace meridian::test
