// RUN: kvcc-opt %s --kvc-lower-to-cpu | FileCheck %s

// One reduction with two outputs, initialized to (-inf, column 0) and scanned
// in column order; the comparison ranks NaN first and breaks ties toward the
// lower column (f16 compared in f32). Results swap back to (index, value).
// CHECK-LABEL: func.func @argmax(
// CHECK-SAME: %[[L:.*]]: tensor<?x1000xf16>
// CHECK-DAG: %[[NEGINF:.*]] = arith.constant 0xFC00 : f16
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK-DAG: %[[VINIT:.*]] = linalg.fill ins(%[[NEGINF]] : f16)
// CHECK-DAG: %[[IINIT:.*]] = linalg.fill ins(%[[ZERO]] : i32)
// CHECK: %[[R:.*]]:2 = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[L]] : tensor<?x1000xf16>) outs(%[[VINIT]], %[[IINIT]] : tensor<?xf16>, tensor<?xi32>)
// CHECK: ^bb0(%[[IN:.*]]: f16, %[[OUT:.*]]: f16, %[[COL:.*]]: i32):
// CHECK: linalg.index 1
// CHECK: arith.extf %[[IN]]
// CHECK: arith.extf %[[OUT]]
// CHECK: arith.cmpf uno
// CHECK: arith.cmpf ogt
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpi slt
// CHECK: arith.select
// CHECK: arith.select
// CHECK: return %[[R]]#1, %[[R]]#0
func.func @argmax(%l: tensor<?x1000xf16>) -> (tensor<?xi32>, tensor<?xf16>) {
  %i, %v = kvc.argmax %l : tensor<?x1000xf16> -> tensor<?xi32>, tensor<?xf16>
  return %i, %v : tensor<?xi32>, tensor<?xf16>
}
