// Internal: MUSEFM_FIELDS_FOR_EACH(m, a, b, ...) expands to m(a) m(b) ... (up to 40 names).
#pragma once

#define MUSEFM_PP_EXPAND(x) x
#define MUSEFM_PP_EACH_1(m, x) m(x)
#define MUSEFM_PP_EACH_2(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_1(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_3(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_2(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_4(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_3(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_5(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_4(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_6(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_5(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_7(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_6(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_8(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_7(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_9(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_8(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_10(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_9(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_11(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_10(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_12(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_11(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_13(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_12(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_14(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_13(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_15(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_14(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_16(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_15(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_17(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_16(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_18(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_17(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_19(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_18(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_20(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_19(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_21(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_20(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_22(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_21(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_23(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_22(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_24(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_23(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_25(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_24(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_26(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_25(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_27(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_26(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_28(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_27(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_29(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_28(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_30(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_29(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_31(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_30(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_32(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_31(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_33(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_32(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_34(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_33(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_35(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_34(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_36(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_35(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_37(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_36(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_38(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_37(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_39(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_38(m, __VA_ARGS__))
#define MUSEFM_PP_EACH_40(m, x, ...) m(x) MUSEFM_PP_EXPAND(MUSEFM_PP_EACH_39(m, __VA_ARGS__))
#define MUSEFM_PP_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, \
                       _18, _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32,  \
                       _33, _34, _35, _36, _37, _38, _39, _40, NAME, ...)                          \
  NAME
#define MUSEFM_FIELDS_FOR_EACH(m, ...)                                                             \
  MUSEFM_PP_EXPAND(MUSEFM_PP_PICK(                                                                 \
      __VA_ARGS__, MUSEFM_PP_EACH_40, MUSEFM_PP_EACH_39, MUSEFM_PP_EACH_38, MUSEFM_PP_EACH_37,     \
      MUSEFM_PP_EACH_36, MUSEFM_PP_EACH_35, MUSEFM_PP_EACH_34, MUSEFM_PP_EACH_33,                  \
      MUSEFM_PP_EACH_32, MUSEFM_PP_EACH_31, MUSEFM_PP_EACH_30, MUSEFM_PP_EACH_29,                  \
      MUSEFM_PP_EACH_28, MUSEFM_PP_EACH_27, MUSEFM_PP_EACH_26, MUSEFM_PP_EACH_25,                  \
      MUSEFM_PP_EACH_24, MUSEFM_PP_EACH_23, MUSEFM_PP_EACH_22, MUSEFM_PP_EACH_21,                  \
      MUSEFM_PP_EACH_20, MUSEFM_PP_EACH_19, MUSEFM_PP_EACH_18, MUSEFM_PP_EACH_17,                  \
      MUSEFM_PP_EACH_16, MUSEFM_PP_EACH_15, MUSEFM_PP_EACH_14, MUSEFM_PP_EACH_13,                  \
      MUSEFM_PP_EACH_12, MUSEFM_PP_EACH_11, MUSEFM_PP_EACH_10, MUSEFM_PP_EACH_9, MUSEFM_PP_EACH_8, \
      MUSEFM_PP_EACH_7, MUSEFM_PP_EACH_6, MUSEFM_PP_EACH_5, MUSEFM_PP_EACH_4, MUSEFM_PP_EACH_3,    \
      MUSEFM_PP_EACH_2, MUSEFM_PP_EACH_1)(m, __VA_ARGS__))
