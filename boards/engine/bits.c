/* TinyLab C engine: a bit reader over flash, most significant bit first (lesson 07_deploy).
 * Used by the "sparse" and "huffman" weight formats; copied into the generated model source. */

typedef struct {
    const uint8_t *next; /* the next byte to load, in flash */
    uint8_t byte;        /* the byte being read */
    uint8_t left;        /* its bits not yet read */
} tl_bits_t;

static void tl_bits_start(tl_bits_t *bits, const uint8_t *flash)
{
    bits->next = flash;
    bits->byte = 0;
    bits->left = 0;
}

TL_UNUSED static uint8_t tl_bit(tl_bits_t *bits)
{
    if (bits->left == 0) {
        bits->byte = TL_U8(bits->next);
        ++bits->next;
        bits->left = 8;
    }
    --bits->left;
    return (uint8_t)((bits->byte >> bits->left) & 1u);
}
