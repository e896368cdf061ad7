/* folder_copy_progress.c - one process per file; the parent shows progress.
 *
 * Ports 004_5b1efd9928a0ec55.txt, 5.7 "多进程实现文件拷贝" (net04_file_copy.py):
 *
 *     def copy_file(file_name, src, dest, queue):
 *         '''拷贝文件的函数'''
 *         src_file = open(src + '/' + file_name, 'rb')
 *         dest_file = open(dest + '/' + file_name, 'wb')
 *
 *         while True:
 *             time.sleep(random.random())
 *             data = src_file.read(4096)
 *             if data:
 *                 dest_file.write(data)
 *             else:
 *                 break
 *         src_file.close()
 *         dest_file.close()
 *         queue.put(file_name)
 *
 *     if __name__ == '__main__':
 *         src_path = input('请输入你要拷贝的目录名:')
 *         try:
 *             dest_path = src_path + '-备份'
 *             os.mkdir(dest_path)
 *             file_list = os.listdir(src_path)
 *         except Exception as e:
 *             print(e)
 *         else:
 *             queue = multiprocessing.Queue()
 *
 *             for file in file_list:
 *                 pro = multiprocessing.Process(
 *                     target=copy_file, args=(file, src_path, dest_path, queue)
 *                 )
 *                 pro.start()
 *
 *             count = 0
 *             while True:
 *                 queue.get()
 *                 count += 1
 *                 print('\r当前进度为%d%%' % (100.0 * count / len(file_list)),end='')
 *                 if count == len(file_list):
 *                     break
 *
 * Usage: folder_copy_progress [SRC [DEST]]; without SRC it asks, as the
 * tutorial does; DEST defaults to SRC + "-备份" and, as there, must not
 * exist yet (the error is printed like Python's OSError). Sub-folders are
 * skipped ("文件夹嵌套不考虑"); an empty folder ends at once instead of
 * waiting forever; the last progress line gets a newline. */
#include "example_util.h"

typedef struct {
    const char *file_name;
    const char *src;
    const char *dest;
    mp_queue *queue;
} copy_args;

/* 拷贝文件的函数 */
static int copy_file(void *arg)
{
    copy_args *a = arg;
    char src_path[4096], dest_path[4096];
    snprintf(src_path, sizeof src_path, "%s/%s", a->src, a->file_name);
    snprintf(dest_path, sizeof dest_path, "%s/%s", a->dest, a->file_name);
    FILE *src_file = fopen(src_path, "rb");
    FILE *dest_file = fopen(dest_path, "wb");
    if (src_file == NULL || dest_file == NULL) {
        perror(src_file == NULL ? src_path : dest_path);
        return 1;
    }
    for (;;) {
        example_sleep(example_random());
        char data[4096];
        size_t n = fread(data, 1, sizeof data, src_file);
        if (n == 0)
            break;
        fwrite(data, 1, n, dest_file);
    }
    fclose(src_file);
    if (fclose(dest_file) != 0) {
        perror(dest_path);
        return 1;
    }
    CHECK(mp_queue_put_str(a->queue, a->file_name, MP_FOREVER));
    return 0;
}

int main(int argc, char **argv)
{
    char src_path[2048], dest_path[2048 + 16];
    if (argc > 1) {
        snprintf(src_path, sizeof src_path, "%s", argv[1]);
    } else {
        printf("请输入你要拷贝的目录名:");
        fflush(stdout);
        if (fgets(src_path, sizeof src_path, stdin) == NULL)
            return 1;
        src_path[strcspn(src_path, "\n")] = '\0';
    }
    if (argc > 2)
        snprintf(dest_path, sizeof dest_path, "%s", argv[2]);
    else
        snprintf(dest_path, sizeof dest_path, "%s-备份", src_path);

    char **file_list = NULL;
    int n;
    if (mkdir(dest_path, 0777) != 0) {
        printf("[Errno %d] %s: '%s'\n", errno, strerror(errno), dest_path); /* print(e) */
        return 0;
    }
    if ((n = example_listdir(src_path, &file_list)) < 0) {
        printf("[Errno %d] %s: '%s'\n", -n, strerror(-n), src_path);
        return 0;
    }

    mp_queue *queue = CHECK_NEW(mp_queue_new(0));
    for (int i = 0; i < n; i++) {
        copy_args args = {file_list[i], src_path, dest_path, queue}; /* the child gets a copy */
        mp_process *pro = CHECK_NEW(mp_process_new(copy_file, &args, NULL));
        CHECK(mp_process_start(pro));
    }

    for (int count = 1; count <= n; count++) {
        char *file_name;
        CHECK(mp_queue_get_str(queue, &file_name, MP_FOREVER));
        free(file_name);
        printf("\r当前进度为%d%%", (int)(100.0 * count / n));
        fflush(stdout);
    }
    printf("\n");
    example_free_names(file_list, n);
    return 0; /* libmp joins the children here, as Python does at exit */
}
