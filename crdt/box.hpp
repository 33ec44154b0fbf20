// Heap cells with value semantics, for members that would otherwise widen a small type: Boxed
// always holds a T, OptionalBox holds one only once asked to.
#pragma once

#include <memory>
#include <utility>

namespace meridian::crdt {

// A heap cell with value semantics: keeps a large alternative (the set, with
// its maps) from widening every Value, so a counter key stays small.
template <class T>
class Boxed {
public:
    Boxed() : cell_(std::make_unique<T>()) {}
    Boxed(T value) : cell_(std::make_unique<T>(std::move(value))) {}
    Boxed(const Boxed& other) : cell_(std::make_unique<T>(*other.cell_)) {}
    Boxed(Boxed&&) noexcept = default;
    Boxed& operator=(const Boxed& other) {
        if (this == &other) return *this;
        if (cell_) {
            *cell_ = *other.cell_;
        } else {
            cell_ = std::make_unique<T>(*other.cell_);  // a moved-from box gets a new cell
        }
        return *this;
    }
    Boxed& operator=(Boxed&&) noexcept = default;

    T& operator*() { return *cell_; }
    const T& operator*() const { return *cell_; }
    T* operator->() { return cell_.get(); }
    const T* operator->() const { return cell_.get(); }

    friend bool operator==(const Boxed& a, const Boxed& b) { return *a.cell_ == *b.cell_; }

private:
    std::unique_ptr<T> cell_;  // null only after a move; such a box is only destroyed or assigned
};

// An optional heap cell with value semantics: a member most values never use costs a pointer.
template <class T>
class OptionalBox {
public:
    OptionalBox() = default;
    OptionalBox(const OptionalBox& other) : cell_(copy_of(other)) {}
    OptionalBox(OptionalBox&&) noexcept = default;
    OptionalBox& operator=(const OptionalBox& other) {
        if (this != &other) cell_ = copy_of(other);
        return *this;
    }
    OptionalBox& operator=(OptionalBox&&) noexcept = default;

    T* get() { return cell_.get(); }
    const T* get() const { return cell_.get(); }
    T& emplace() {
        if (!cell_) cell_ = std::make_unique<T>();
        return *cell_;
    }
    void reset() { cell_.reset(); }

    friend bool operator==(const OptionalBox& a, const OptionalBox& b) {
        return a.cell_ ? b.cell_ && *a.cell_ == *b.cell_ : !b.cell_;
    }

private:
    static std::unique_ptr<T> copy_of(const OptionalBox& other) {
        return other.cell_ ? std::make_unique<T>(*other.cell_) : nullptr;
    }
    std::unique_ptr<T> cell_;
};

}  // namespace meridian::crdt
