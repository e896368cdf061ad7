/* pool_copy_progress.c - copy a folder on a pool of five, showing progress.
 *
 * Ports 000_88437d67793eae77.txt, 六 "案例:文件批量复制":
 *
 *     def copy_file(Q,oldfolderName,newfolderName,file_name):
 *         # 文件复制,不需要返回
 *         time.sleep(0.5)
 *         old_file = open(oldfolderName + '/' + file_name,'rb') # 待复制文件
 *         content = old_file.read()
 *         old_file.close()
 *
 *         new_file = open(newfolderName + '/' + file_name,'wb') # 复制出的新文件
 *         new_file.write(content)
 *         new_file.close()
 *
 *         Q.put(file_name) # 向Q队列中添加文件
 *
 *     def main():
 *         oldfolderName = input('请输入要复制的文件夹名字:')
 *         newfolderName = oldfolderName + '复件'
 *         # 步骤二 创建一个新的文件夹
 *         if not os.path.exists(newfolderName):
 *             os.mkdir(newfolderName)
 *
 *         filenames = os.listdir(oldfolderName) # 3.获取文件夹里面所有待复制的文件名
 *
 *         pool = multiprocessing.Pool(5) # 4.创建进程池
 *
 *         Q = multiprocessing.Manager().Queue() # 创建队列,进行通信
 *         for file_name in filenames:
 *             pool.apply_async(copy_file,args=(Q,oldfolderName,newfolderName,file_name))
 * # 5.向进程池添加任务 po.close()
 *
 *         copy_file_num = 0
 *         file_count = len(filenames)
 *         # 不知道什么时候完成,所以定义一个死循环
 *         while True:
 *             file_name = Q.get()
 *             copy_file_num += 1
 *             time.sleep(0.2)
 *             print('\r拷贝进度%.2f %%'%(copy_file_num  * 100/file_count),end='') #
 * 做一个拷贝进度条
 *
 *             if copy_file_num >= file_count:
 *                 break
 *
 * Usage: pool_copy_progress [FOLDER [NEW_FOLDER]]; without FOLDER it asks
 * for it, as the tutorial does; NEW_FOLDER defaults to FOLDER + "复件".
 * The tutorial's stray `po.close()` is read as closing the pool after the
 * submissions; the pool is joined at the end. An empty folder would make
 * its loop wait forever, so the loop runs only while files remain. The
 * last progress line gets a newline, which Python leaves out. The task's
 * arguments (queue pointer and names) are copied into the pool as one
 * struct; the queue, in the shared heap, needs no Manager. */
#include "example_util.h"

typedef struct {
    mp_queue *q;
    char old_folder[1024];
    char new_folder[1024];
    char file_name[256];
} copy_args;

/* copy_file copies one file, then reports its name on the queue. */
static int copy_file(const void *arg, void *result)
{
    const copy_args *a = arg;
    example_sleep(0.5);
    char old_path[2048], new_path[2048];
    snprintf(old_path, sizeof old_path, "%s/%s", a->old_folder, a->file_name);
    snprintf(new_path, sizeof new_path, "%s/%s", a->new_folder, a->file_name);

    FILE *old_file = fopen(old_path, "rb"); /* 待复制文件 */
    if (old_file == NULL)
        return 1;
    fseek(old_file, 0, SEEK_END);
    long size = ftell(old_file);
    rewind(old_file);
    char *content = malloc(size > 0 ? size : 1);
    size_t got = content ? fread(content, 1, size, old_file) : 0;
    fclose(old_file);

    FILE *new_file = fopen(new_path, "wb"); /* 复制出的新文件 */
    int failed = content == NULL || got != (size_t)size || new_file == NULL;
    if (!failed)
        failed = fwrite(content, 1, got, new_file) != got;
    if (new_file != NULL && fclose(new_file) != 0)
        failed = 1;
    free(content);
    if (failed)
        return 1;

    CHECK(mp_queue_put_str(a->q, a->file_name, MP_FOREVER)); /* 向Q队列中添加文件 */
    return 0;
}

int main(int argc, char **argv)
{
    char old_folder[1024], new_folder[1024];
    if (argc > 1) {
        snprintf(old_folder, sizeof old_folder, "%s", argv[1]);
    } else {
        printf("请输入要复制的文件夹名字:");
        fflush(stdout);
        if (fgets(old_folder, sizeof old_folder, stdin) == NULL)
            return 1;
        old_folder[strcspn(old_folder, "\n")] = '\0';
    }
    snprintf(new_folder, sizeof new_folder, "%s", argc > 2 ? argv[2] : old_folder);
    if (argc <= 2)
        strncat(new_folder, "复件", sizeof new_folder - strlen(new_folder) - 1);
    /* 步骤二 创建一个新的文件夹 */
    struct stat st;
    if (stat(new_folder, &st) != 0 && mkdir(new_folder, 0777) != 0) {
        perror(new_folder);
        return 1;
    }

    char **filenames = NULL; /* 3.获取文件夹里面所有待复制的文件名 */
    int file_count = example_listdir(old_folder, &filenames);
    if (file_count < 0) {
        fprintf(stderr, "%s: %s\n", old_folder, strerror(-file_count));
        return 1;
    }

    mp_pool *pool = CHECK_NEW(mp_pool_new(5)); /* 4.创建进程池 */
    mp_queue *q = CHECK_NEW(mp_queue_new(0));  /* 创建队列,进行通信 */
    mp_async **tasks = calloc(file_count + 1, sizeof *tasks);
    copy_args *args = calloc(1, sizeof *args);
    if (tasks == NULL || args == NULL)
        return 1;
    args->q = q;
    snprintf(args->old_folder, sizeof args->old_folder, "%s", old_folder);
    snprintf(args->new_folder, sizeof args->new_folder, "%s", new_folder);
    for (int i = 0; i < file_count; i++) { /* 5.向进程池添加任务 */
        snprintf(args->file_name, sizeof args->file_name, "%s", filenames[i]);
        tasks[i] = CHECK_NEW(mp_pool_apply_async(pool, copy_file, args, sizeof *args, 0, NULL));
    }
    CHECK(mp_pool_close(pool));

    int copy_file_num = 0;
    while (copy_file_num < file_count) {
        char *file_name;
        CHECK(mp_queue_get_str(q, &file_name, MP_FOREVER));
        free(file_name);
        copy_file_num += 1;
        example_sleep(0.2);
        printf("\r拷贝进度%.2f %%", copy_file_num * 100.0 / file_count); /* 做一个拷贝进度条 */
        fflush(stdout);
    }
    printf("\n");

    CHECK(mp_pool_join(pool));
    for (int i = 0; i < file_count; i++)
        mp_async_free(tasks[i]);
    free(tasks);
    free(args);
    mp_pool_free(pool);
    mp_queue_free(q);
    example_free_names(filenames, file_count);
    return 0;
}
