/* folder_copier.c - copy every file of a folder, one process per file.
 *
 * Ports 003_0a6313e0c9076710.txt, 第六课 "传智教学视频文件夹高并发copy器":
 *
 *     def copy_work(file_name, source_dir, dest_dir):
 *         # 拼接路径
 *         source_path = source_dir+"/"+file_name
 *         dest_path = dest_dir+"/"+file_name
 *
 *         print(source_path, "----->", dest_path)
 *         # 打开源文件、创建目标文件
 *         with open(source_path,"rb") as source_file:
 *             with open(dest_path,"wb") as dest_file:
 *                 while True:
 *                     # 循环读取数据
 *                     file_data = source_file.read(1024)
 *                     if file_data:
 *                         # 循环写入到目标文件
 *                         dest_file.write(file_data)
 *                     else:
 *                         break
 *
 *     # 1、定义源文件目录和目标文件夹的目录
 *     source_dir = "python教学视频"
 *     dest_dir = "/home/python/桌面/test"
 *     try:
 *         # 2、创建目标文件夹目录
 *         os.mkdir(dest_dir)
 *     except:
 *         print("目标文件夹已经存在，未创建~")
 *     # 3、列表得到所有的源文件中的文件
 *     file_list = os.listdir(source_dir)
 *     print(file_list)
 *     # 4、for 循环，依次拷贝每个文件
 *     for file_name in file_list:
 *         sub_process = multiprocessing.Process(target=copy_work,
 *         args=(file_name, source_dir, dest_dir))
 *         sub_process.start()
 *
 * Usage: folder_copier [SOURCE_DIR [DEST_DIR]], by default the lesson's
 * "python教学视频" and "test" (the lesson's folder under a relative path).
 * Sub-folders are skipped, as the lesson's os.listdir + open would fail
 * on them. Each child copies its file in 1024-byte chunks. */
#include "example_util.h"

typedef struct {
    const char *file_name;
    const char *source_dir;
    const char *dest_dir;
} copy_args;

static int copy_work(void *arg)
{
    copy_args *a = arg;
    /* 拼接路径 */
    char source_path[4096], dest_path[4096];
    snprintf(source_path, sizeof source_path, "%s/%s", a->source_dir, a->file_name);
    snprintf(dest_path, sizeof dest_path, "%s/%s", a->dest_dir, a->file_name);

    printf("%s -----> %s\n", source_path, dest_path);
    /* 打开源文件、创建目标文件 */
    FILE *source_file = fopen(source_path, "rb");
    if (source_file == NULL) {
        perror(source_path);
        return 1;
    }
    FILE *dest_file = fopen(dest_path, "wb");
    if (dest_file == NULL) {
        perror(dest_path);
        fclose(source_file);
        return 1;
    }
    char file_data[1024];
    size_t n;
    while ((n = fread(file_data, 1, sizeof file_data, source_file)) > 0) /* 循环读取数据 */
        fwrite(file_data, 1, n, dest_file); /* 循环写入到目标文件 */
    int failed = ferror(source_file) || ferror(dest_file);
    fclose(source_file);
    if (fclose(dest_file) != 0 || failed) {
        perror(dest_path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* 1、定义源文件目录和目标文件夹的目录 */
    const char *source_dir = argc > 1 ? argv[1] : "python教学视频";
    const char *dest_dir = argc > 2 ? argv[2] : "test";

    /* 2、创建目标文件夹目录 */
    if (mkdir(dest_dir, 0777) != 0)
        printf("目标文件夹已经存在，未创建~\n");

    /* 3、列表得到所有的源文件中的文件 */
    char **file_list;
    int n = example_listdir(source_dir, &file_list);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", source_dir, strerror(-n));
        return 1;
    }
    printf("[");
    for (int i = 0; i < n; i++)
        printf(i ? ", '%s'" : "'%s'", file_list[i]);
    printf("]\n");

    /* 4、for 循环，依次拷贝每个文件 */
    for (int i = 0; i < n; i++) {
        copy_args args = {file_list[i], source_dir, dest_dir}; /* the child gets a copy */
        mp_process *sub_process = CHECK_NEW(mp_process_new(copy_work, &args, NULL));
        CHECK(mp_process_start(sub_process));
    }
    example_free_names(file_list, n);
    return 0; /* libmp joins the children here, as Python does at exit */
}
