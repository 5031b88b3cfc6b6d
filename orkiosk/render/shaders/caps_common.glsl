// Cut sections from crossing counts (parity.frag): at each pixel the plane's point on the view
// ray is inside a closed structure when that structure's count is odd; the innermost one (slots
// are ordered outermost first) owns the pixel.

uniform sampler2D u_count0;
uniform sampler2D u_count1;
uniform int u_slots;
uniform vec3 u_colors[8];
uniform float u_opacities[8];
uniform mat4 u_inv_proj;
uniform vec4 u_plane;  // view space: dot(u_plane.xyz, p) + u_plane.w = 0

int owner_at(ivec2 q) {
    vec4 c0 = texelFetch(u_count0, q, 0);
    vec4 c1 = texelFetch(u_count1, q, 0);
    float counts[8] = float[8](c0.r, c0.g, c0.b, c0.a, c1.r, c1.g, c1.b, c1.a);
    int owner = -1;
    for (int k = 0; k < u_slots; ++k) {
        if (mod(counts[k] + 0.5, 2.0) >= 1.0) {
            owner = k;
        }
    }
    return owner;
}

// The view-space point where this pixel's ray meets the plane; false if it does not.
bool plane_point(vec2 uv, out vec3 p) {
    vec2 ndc = uv * 2.0 - 1.0;
    vec4 a = u_inv_proj * vec4(ndc, -1.0, 1.0);
    vec4 b = u_inv_proj * vec4(ndc, 1.0, 1.0);
    vec3 p0 = a.xyz / a.w;
    vec3 dir = b.xyz / b.w - p0;
    float denom = dot(u_plane.xyz, dir);
    if (abs(denom) < 1e-12) {
        return false;
    }
    float t = -(dot(u_plane.xyz, p0) + u_plane.w) / denom;
    p = p0 + t * dir;
    return t >= 0.0 && t <= 1.0;
}

// Darker where the owner changes: a line around each section.
bool section_edge(ivec2 q, int owner) {
    ivec2 hi = textureSize(u_count0, 0) - 1;
    return owner_at(max(q - ivec2(1, 0), ivec2(0))) != owner
        || owner_at(min(q + ivec2(1, 0), hi)) != owner
        || owner_at(max(q - ivec2(0, 1), ivec2(0))) != owner
        || owner_at(min(q + ivec2(0, 1), hi)) != owner;
}

// The image volume on the cut (format 1.1): grey under the window, false outside the image.
uniform bool u_has_image;
uniform sampler3D u_image;
uniform mat4 u_view_to_tex;  // view space -> texture coordinates
uniform vec2 u_window;  // (width, level) in the image's units (HU for CT)
uniform vec4 u_cross[4];  // trajectory crossings: view-space point, ring radius (mm)
uniform int u_ncross;

bool image_grey(vec3 p, out float g) {
    g = 0.0;
    if (!u_has_image) {
        return false;
    }
    vec3 t = (u_view_to_tex * vec4(p, 1.0)).xyz;
    if (any(lessThan(t, vec3(0.0))) || any(greaterThan(t, vec3(1.0)))) {
        return false;
    }
    float v = texture(u_image, t).r;
    g = clamp((v - (u_window.y - 0.5 * u_window.x)) / u_window.x, 0.0, 1.0);
    return true;
}

// A ring around each trajectory's crossing, about 0.8 mm wide (at least one pixel).
bool on_crossing_ring(vec3 p) {
    float px = length(fwidth(p));
    for (int k = 0; k < u_ncross; ++k) {
        float d = length(p - u_cross[k].xyz);
        float r = u_cross[k].w;
        if (d > r && d < r + max(0.8, 1.5 * px)) {
            return true;
        }
    }
    return false;
}
