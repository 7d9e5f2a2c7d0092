/*
 * The pixel loops of conv_narrow_weight.c for one vector width: a template that file includes once per
 * width, defining first
 *   NW_LANES          the filters one vector holds (16, or 8 for at most 8 filters)
 *   NW_VEC, NW_VECU   a vector of NW_LANES floats, aligned and unaligned
 * It defines group_pixels<NW_LANES> and the DK_KERNEL worker narrow_weight_blocks<NW_LANES>, whose
 * partial sums are NW_LANES floats per field position.
 */
#define NW_PASTE2(a, b) a##b
#define NW_PASTE(a, b) NW_PASTE2(a, b)
#define NW_FN(name) NW_PASTE(name, NW_LANES)
/* DK_KERNEL pastes its name as written: this expands NW_FN(...) first. */
#define NW_KERNEL(name, params, args) DK_KERNEL(static, name, params, args)

/* Adds pixels [p0, p1) of one image (dout rows from `dout`, `n` floats each, loaded whole below
 * `full_rows`) into the accumulators of one group. kind, row_kw and rows are constants at each call:
 * segments take offset[0], rows take offset[r] for each of `rows` kernel rows of row_kw positions, the
 * table offset[j] per position. */
DK_INLINE void NW_FN(group_pixels)(NW_VEC acc[GROUP], image_view v, const int *offset, const group_kind kind,
                            const int row_kw, const int rows, const dk_window *w, size_t p0, size_t p1,
                            const float *dout, int n, size_t full_rows) {
    const size_t ow = (size_t)w->out_w, row_step = (size_t)w->stride_h * v.line;
    size_t ox = p0 % ow;
    const float *line = v.top + p0 / ow * row_step;
    for (size_t p = p0; p < p1; p++, dout += n) {
        NW_VEC d;
        if (p < full_rows) {
            /* Lanes past n hold the next pixels' gradients: they feed only lanes that are never stored. */
            d = *(const NW_VECU *)dout;
        } else {
            float row[NW_LANES] = {0};
            for (int f = 0; f < n; f++) row[f] = dout[f];
            d = *(const NW_VECU *)row;
        }
        const float *window = line + ox * v.pixel_step;
        if (kind == GROUP_SEGMENTS)
            for (int j = 0; j < GROUP; j++) acc[j] += window[offset[0] + j] * d;
        else if (kind == GROUP_ROWS)
            for (int r = 0; r < rows; r++)
                for (int kx = 0; kx < row_kw; kx++) acc[r * row_kw + kx] += window[offset[r] + kx] * d;
        else
            for (int j = 0; j < GROUP; j++) acc[j] += window[offset[j]] * d;
        if (++ox == ow) {
            ox = 0;
            line += row_step;
        }
    }
}

/* Blocks [first_block + i0, first_block + i1): each block's sums, from zero, into its partials. */
NW_KERNEL(NW_FN(narrow_weight_blocks), (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const weight_pass *pass = p;
    const dk__conv_weight *a = pass->a;
    const dk_window *w = a->w;
    const int n = a->oc, padding = dk__window_reads_padding(w);
    const size_t C = (size_t)w->channels, run = kernel_run(w), field = field_floats(w);
    const size_t per_image = (size_t)w->out_h * w->out_w, m = (size_t)w->batch * per_image;
    const size_t groups = group_count(w);
    const group_kind kind = kind_of(w);
    const int row_kw = kind == GROUP_ROWS ? w->kernel_w : 0;
    const int size = (int)group_size(w);
    image_view view = {NULL, (padding ? dk__window_reach_w(w) : (size_t)w->width) * C, (size_t)w->stride_w * C};
    /* Pixels whose dout row can be loaded as a whole vector without reading past the end. */
    const size_t full_rows = m * n >= NW_LANES ? (m * n - NW_LANES) / n + 1 : 0;
    /* Group g's offsets from offset + g * GROUP; rows or positions past the field repeat the last one,
     * so that every read stays in the image. */
    int offset[DK_KC_MAX];
    for (size_t g = 0; g < groups; g++)
        for (size_t j = 0; j < GROUP; j++) {
            size_t k;
            if (kind == GROUP_ROWS) {
                size_t ky = g * rows_per_group(w) + j;
                k = (ky < (size_t)w->kernel_h ? ky : (size_t)w->kernel_h - 1) * run;
            } else {
                k = group_first(w, g) + (kind == GROUP_TABLE ? j : 0);
                if (k >= field) k = field - 1;
            }
            offset[g * GROUP + j] = (int)(k / run * view.line + k % run);
        }
    int slot;
    float *restrict padded = padding ? dk__scratch_claim(&g_images, (int)i0, &slot) : NULL;
    size_t image = (size_t)-1;
    for (size_t i = i0; i < i1; i++) {
        size_t b = pass->first_block + i;
        size_t r0 = b * a->step, r1 = r0 + a->step < m ? r0 + a->step : m;
        float *partial = pass->partials + i * groups * GROUP * NW_LANES;
        for (size_t s0 = r0; s0 < r1;) {
            /* The block's pixels in one image. */
            size_t q0, q1, img = lanes_image_part(w, a->inp, padded, &view, &image, s0, r1, &q0, &q1);
            size_t s1 = img * per_image + q1;
            const float *d = a->dout + s0 * (size_t)n;
            size_t full = full_rows > s0 ? full_rows - img * per_image : 0;
            for (size_t g = 0; g < groups; g++) {
                NW_VEC acc[GROUP];
                NW_VECU *saved = (NW_VECU *)(partial + g * GROUP * NW_LANES);
                for (int j = 0; j < GROUP; j++) acc[j] = s0 == r0 || j >= size ? (NW_VEC){0} : saved[j];
                const int *at = offset + g * GROUP;
                /* A row group's kernel rows, a constant per call: the last group's may be fewer (a 5x5
                 * kernel's second group has 2 of 3), and its missing rows cost nothing. */
#define NW_ROWS(KW, R) NW_FN(group_pixels)(acc, view, at, GROUP_ROWS, KW, (R) <= GROUP / (KW) ? (R) : 1, w, q0, q1, d, n, full)
#define NW_ROWS5(R) NW_ROWS(5, R)
#define NW_ROWS3(R) NW_ROWS(3, R)
                const int rows = kind == GROUP_ROWS ? (int)group_rows(w, g) : 0;
                if (kind == GROUP_SEGMENTS) NW_FN(group_pixels)(acc, view, at, GROUP_SEGMENTS, 0, 0, w, q0, q1, d, n, full);
                else if (row_kw == 5) switch (rows) { DK_CASES_1_TO_6(NW_ROWS5) }
                else if (row_kw == 3) switch (rows) { DK_CASES_1_TO_6(NW_ROWS3) }
                else NW_FN(group_pixels)(acc, view, at, GROUP_TABLE, 0, 0, w, q0, q1, d, n, full);
#undef NW_ROWS3
#undef NW_ROWS5
#undef NW_ROWS
                for (int j = 0; j < GROUP; j++)
                    if (j < size) saved[j] = acc[j];
            }
            s0 = s1;
        }
    }
    if (padding) dk__scratch_release(&g_images, slot);
}

#undef NW_KERNEL
#undef NW_FN
#undef NW_PASTE
#undef NW_PASTE2
