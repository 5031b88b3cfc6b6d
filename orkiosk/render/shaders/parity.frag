#version 330
// Counts surface crossings per structure (one channel each, additive blending): where the count
// is odd, the clipping plane's point on that pixel's ray lies inside the structure.

uniform int u_slot;  // 0..7

in vec3 v_pos;
in vec3 v_normal;

layout(location = 0) out vec4 f_count0;
layout(location = 1) out vec4 f_count1;

void main() {
    vec4 one = vec4(equal(ivec4(u_slot), ivec4(0, 1, 2, 3)));
    vec4 two = vec4(equal(ivec4(u_slot), ivec4(4, 5, 6, 7)));
    f_count0 = one;
    f_count1 = two;
}
